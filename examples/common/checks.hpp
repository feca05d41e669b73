#pragma once
// Shared by the examples: the example's own sanity checks, which decide its exit status
// (the examples run as ctest smoke tests).
#include <cstdio>
#include <string>

namespace examples {

/// One self-check: prints "CHECK FAILED: <what>" when `ok` is false. Returns `ok`.
inline bool check(bool ok, const std::string& what) {
    if (!ok) std::printf("CHECK FAILED: %s\n", what.c_str());
    return ok;
}

/// Collects an example's checks: each failed one is printed; `exit_code()` is 1 if any failed.
class checks {
public:
    /// Records one check (see `check`). Returns `ok`.
    bool expect(bool ok, const std::string& what) {
        if (!check(ok, what)) ++failed_;
        return ok;
    }
    /// The process exit status: 0 when every check passed.
    [[nodiscard]] int exit_code() const {
        if (failed_ == 0) return 0;
        std::printf("%d check(s) failed\n", failed_);
        return 1;
    }

private:
    int failed_ = 0;
};

}  // namespace examples
