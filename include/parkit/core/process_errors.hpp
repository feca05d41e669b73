#pragma once
/// @file
/// Failures that only the process (and MPI) backends have: an exception that crossed a process
/// boundary, a worker process that died, and a task that ran past its time limit.

#include <cstddef>
#include <stdexcept>
#include <string>

namespace parkit {

/// A task threw in a worker process or on an MPI rank. The exception object itself stays there;
/// its dynamic type name and `what()` come back (like Python's `concurrent.futures` re-raising a
/// pickled error), and for `backend::mpi` the rank that ran the task.
class remote_error : public std::runtime_error {
public:
    /// Builds the error for task `index` that threw a `type_name` saying `message` in a worker
    /// process.
    remote_error(std::size_t index, std::string type_name, std::string message)
        : remote_error(index, std::move(type_name), std::move(message), -1) {}
    /// Builds the error for task `index` that threw a `type_name` saying `message` on MPI rank
    /// `rank` (-1: in a worker process).
    remote_error(std::size_t index, std::string type_name, std::string message, int rank)
        : std::runtime_error(
              "parkit: task " + std::to_string(index) + " threw " + type_name +
              (rank < 0 ? std::string(" in a worker process: ") : " on MPI rank " + std::to_string(rank) + ": ") +
              message),
          index_(index),
          rank_(rank),
          type_name_(std::move(type_name)),
          message_(std::move(message)) {}
    /// Submission index (or input position) of the task.
    [[nodiscard]] std::size_t index() const noexcept { return index_; }
    /// The MPI rank that ran the task (`backend::mpi`), or -1 for a worker process.
    [[nodiscard]] int rank() const noexcept { return rank_; }
    /// Demangled dynamic type of the original exception, e.g. "std::invalid_argument".
    [[nodiscard]] const std::string& type_name() const noexcept { return type_name_; }
    /// The original exception's `what()`.
    [[nodiscard]] const std::string& message() const noexcept { return message_; }

private:
    std::size_t index_;
    int rank_;
    std::string type_name_;
    std::string message_;
};

/// The worker process running a task died (a signal such as SIGSEGV or SIGKILL, `abort()`,
/// `std::exit`, the out-of-memory killer). The pool replaced the worker; other tasks go on.
class worker_crashed : public std::runtime_error {
public:
    /// Builds the error for task `index`; `how` is e.g. "killed by signal 11 (SIGSEGV)".
    worker_crashed(std::size_t index, int signal, int exit_code, const std::string& how)
        : std::runtime_error("parkit: the worker process running task " + std::to_string(index) + " died: " + how),
          index_(index),
          signal_(signal),
          exit_code_(exit_code),
          how_(how) {}
    /// Submission index (or input position) of the task.
    [[nodiscard]] std::size_t index() const noexcept { return index_; }
    /// The signal that killed the worker, or 0 if it exited.
    [[nodiscard]] int signal() const noexcept { return signal_; }
    /// The worker's exit code, or -1 if a signal killed it.
    [[nodiscard]] int exit_code() const noexcept { return exit_code_; }
    /// How the worker ended, in words, e.g. "killed by signal 11 (SIGSEGV)".
    [[nodiscard]] const std::string& how() const noexcept { return how_; }

private:
    std::size_t index_;
    int signal_;
    int exit_code_;
    std::string how_;
};

/// A task ran longer than its time limit; its worker process was killed and replaced.
class task_timeout : public std::runtime_error {
public:
    /// Builds the error for task `index` that exceeded `limit_s` seconds.
    task_timeout(std::size_t index, double limit_s)
        : std::runtime_error("parkit: task " + std::to_string(index) + " exceeded its time limit of " +
                             std::to_string(limit_s) + " s; its worker process was killed"),
          index_(index),
          limit_s_(limit_s) {}
    /// Submission index (or input position) of the task.
    [[nodiscard]] std::size_t index() const noexcept { return index_; }
    /// The limit that was exceeded, in seconds.
    [[nodiscard]] double limit_s() const noexcept { return limit_s_; }

private:
    std::size_t index_;
    double limit_s_;
};

}  // namespace parkit
