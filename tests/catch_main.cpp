// The Catch2 (v2) main, compiled once as an OBJECT library for parkit_tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#if defined(__SANITIZE_ADDRESS__)
#include <unistd.h>

namespace {
const pid_t test_process = ::getpid();
}  // namespace

// LeakSanitizer's exit-time check, in the forked worker processes the tests start: a worker's
// heap is its parent's copy, so its "leaks" are noise, and a task that calls exit(3) must end
// its worker with status 3, not with LeakSanitizer's status 1 (or a scan past its time limit).
// LeakSanitizer asks this hook when it is about to check; the test process itself is checked.
extern "C" int __lsan_is_turned_off() {
    return ::getpid() != test_process ? 1 : 0;
}
#endif
