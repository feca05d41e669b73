#pragma once
/// @file
/// Helpers of the reliability tests (soak, stress, fault injection): a watchdog that turns a
/// hang into a failure, the process's resident memory, open descriptors and threads, and a
/// scale factor that shrinks the work under sanitizers.

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace parkit_test {

/// The child processes of `parent` (default: this process), from /proc: live ones as positive
/// pids, zombies (exited, not reaped yet) as negative ones.
inline std::vector<int> child_processes(int parent = static_cast<int>(::getpid())) {
    std::vector<int> out;
    DIR* dir = ::opendir("/proc");
    if (dir == nullptr) return out;
    const std::string me = std::to_string(parent);
    while (dirent* e = ::readdir(dir)) {
        const std::string name = e->d_name;
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat("/proc/" + name + "/stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        std::string ppid;
        std::istringstream rest(line.substr(close + 2));
        rest >> state >> ppid;
        if (ppid == me) out.push_back(std::stoi(name) * (state == 'Z' ? -1 : 1));
    }
    ::closedir(dir);
    return out;
}

/// The processes of this process's process_pools' workers: the children (live or zombie, as
/// in child_processes) of its live children (the pools' fork servers).
inline std::vector<int> grandchild_processes() {
    std::vector<int> out;
    for (int child : child_processes()) {
        if (child <= 0) continue;
        for (int grandchild : child_processes(child)) out.push_back(grandchild);
    }
    return out;
}

/// Whether process `pid` still exists (running or zombie).
inline bool process_exists(int pid) {
    return std::filesystem::exists("/proc/" + std::to_string(pid));
}

/// Dereferences a null pointer, as a buggy task would: the process dies by SIGSEGV. Exempt from
/// UBSan, which would otherwise report the load and exit instead of letting the signal happen.
#if defined(__clang__)
__attribute__((noinline, no_sanitize("undefined")))
#elif defined(__GNUC__)
__attribute__((noinline, no_sanitize_undefined))
#endif
inline int
null_dereference() {
    volatile int* p = nullptr;
    return *p;
}

/// Memory shared by the test process and every process it forks afterwards (made on first use:
/// call `shared_page()` before making the pool or map whose tasks use it).
struct shared_flags {
    std::atomic<int> helper_pid{0};  ///< the last helper a task forked
    std::atomic<int> generation{0};  ///< advanced by the test: the helpers forked before may exit
};

/// The process tree's shared_flags (see there).
inline shared_flags& shared_page() {
    static shared_flags* page = [] {
        void* p = ::mmap(nullptr, sizeof(shared_flags), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) std::abort();
        return new (p) shared_flags;
    }();
    return *page;
}

/// What a careless task does to its worker: forks a helper process (which inherits the worker's
/// socket and lives on until the test calls release_helpers(), 120 s at most), then
/// crashes with SIGSEGV. The parent must notice the crash at once, not when the helper exits.
[[noreturn]] inline void fork_helper_then_crash() {
    shared_flags& flags = shared_page();
    const pid_t helper = ::fork();
    const int generation = flags.generation.load();
    if (helper == 0) {
        // Off the test's output: a runner such as ctest waits for every holder of its pipe.
        const int null_fd = ::open("/dev/null", O_RDWR);
        for (int fd = 0; fd <= 2 && null_fd >= 0; ++fd) ::dup2(null_fd, fd);
        for (int i = 0; i < 12'000 && flags.generation.load() == generation; ++i) ::usleep(10'000);
        ::_exit(0);
    }
    flags.helper_pid.store(static_cast<int>(helper));
    ::raise(SIGSEGV);
    ::_exit(1);
}

/// Lets every helper of fork_helper_then_crash exit and waits (up to 10 s) for the last one.
inline void release_helpers() {
    shared_flags& flags = shared_page();
    flags.generation.fetch_add(1);
    const int pid = flags.helper_pid.exchange(0);
    for (int i = 0; pid > 0 && i < 1000 && process_exists(pid); ++i) ::usleep(10'000);
}

/// What a misbehaving task does: writes `bytes` into every socket it has open, i.e. into its
/// worker's socket to the parent.
inline void write_to_own_sockets(const void* bytes, std::size_t size) {
    for (int fd = 3; fd < 1024; ++fd) {
        struct stat info {};
        if (::fstat(fd, &info) == 0 && S_ISSOCK(info.st_mode)) {
            [[maybe_unused]] const ssize_t n = ::send(fd, bytes, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
    }
}

/// A message header as parkit's protocol had it (kind, run time, id, payload size: 24 bytes),
/// announcing `payload_bytes`: what a task forging a reply would write.
struct forged_header {
    std::uint32_t kind = 2;  // "result"
    std::uint32_t elapsed_us = 0;
    std::uint64_t id = 0;
    std::uint64_t size = 0;
};

/// Writes a forged header announcing `payload_bytes` into the task's own sockets.
inline void forge_reply_header(std::uint64_t payload_bytes, std::uint64_t id = 0) {
    const forged_header header{2, 0, id, payload_bytes};
    write_to_own_sockets(&header, sizeof header);
}

#if defined(__SANITIZE_THREAD__)
inline constexpr bool under_tsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool under_tsan = true;
#else
inline constexpr bool under_tsan = false;
#endif
#else
inline constexpr bool under_tsan = false;
#endif

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool under_asan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool under_asan = true;
#else
inline constexpr bool under_asan = false;
#endif
#else
inline constexpr bool under_asan = false;
#endif

/// True under ThreadSanitizer or AddressSanitizer (slower, and ASan's quarantine holds memory).
inline constexpr bool under_sanitizer = under_tsan || under_asan;

/// `n` in a normal build, n / 20 under TSan and n / 5 under ASan (at least 1).
constexpr std::size_t scaled(std::size_t n) {
    const std::size_t divisor = under_tsan ? 20 : under_asan ? 5 : 1;
    return n / divisor > 0 ? n / divisor : 1;
}

/// Fails the test program (message on stderr, then std::abort) when it lives longer than
/// `limit` (five times that under a sanitizer), so a deadlock fails instead of hanging.
class watchdog {
public:
    watchdog(std::string what, std::chrono::seconds limit)
        : what_(std::move(what)), limit_(under_sanitizer ? 5 * limit : limit), thread_([this] { watch(); }) {}
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;
    ~watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

private:
    void watch() {
        std::unique_lock lock(mutex_);
        if (cv_.wait_for(lock, limit_, [this] { return done_; })) return;
        std::fprintf(stderr, "parkit watchdog: '%s' did not finish within %lld s (deadlock?); aborting\n",
                     what_.c_str(), static_cast<long long>(limit_.count()));
        std::fflush(stderr);
        std::abort();
    }

    std::string what_;
    std::chrono::seconds limit_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

/// Resident memory of this process in bytes (/proc/self/statm), 0 when unknown.
inline std::size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    if (!(statm >> pages >> resident)) return 0;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

/// Open file descriptors of this process.
inline std::size_t open_descriptors() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

/// Threads of this process (/proc/self/status), 0 when unknown.
inline std::size_t thread_count() {
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
        if (key == "Threads:") {
            std::size_t n = 0;
            status >> n;
            return n;
        }
    }
    return 0;
}

/// The thread count once it has come down to `expected`, waiting up to 2 s: a joined thread
/// can still be listed in /proc for a moment (pthread_join returns when the kernel clears the
/// thread's id, before the thread is removed from the process), longer on a loaded machine.
/// Returns the last count seen.
inline std::size_t thread_count_settled(std::size_t expected) {
    std::size_t n = thread_count();
    for (int i = 0; i < 200 && n != expected; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        n = thread_count();
    }
    return n;
}

}  // namespace parkit_test
