#pragma once
/// @file
/// Checks that the options a call was given fit that call: a field the call does not honour
/// must be left at its default, or the call throws `std::invalid_argument` naming the call and
/// the field, never runs as if it had not been set (a time limit dropped, `backend::processes`
/// run on threads, an MPI setting read by no one).

#include <stdexcept>
#include <string>

#include "../../core/options.hpp"

namespace parkit::detail {

/// The refusal of `field` (e.g. "options.max_in_flight") by `call`, with what to do instead.
inline std::invalid_argument option_not_honoured(const char* call, const char* field, const std::string& instead) {
    return std::invalid_argument(std::string(call) + ": " + field + " is not honoured by this call; " + instead);
}

/// True when `mpi` is the default `mpi_options{}`.
inline bool is_default(const mpi_options& mpi) noexcept {
    const mpi_options none{};
    return mpi.broadcast == none.broadcast && mpi.threads_per_rank == none.threads_per_rank &&
           mpi.check_inputs == none.check_inputs && mpi.join_timeout_s == none.join_timeout_s;
}

/// Refuses a checkpoint where a call does not keep one.
inline void require_no_checkpoint(const checkpoint_store& checkpoint, const char* call) {
    if (checkpoint)
        throw option_not_honoured(call, "options.checkpoint",
                                  "it is honoured by parkit::parallel_map (use it there, or parkit::memory::cache "
                                  "for single calls)");
}

/// Refuses `max_in_flight` outside the streaming maps.
inline void require_no_in_flight_window(std::size_t max_in_flight, const char* call) {
    if (max_in_flight != 0)
        throw option_not_honoured(call, "options.max_in_flight",
                                  "it bounds the streaming maps parkit::imap / imap_unordered only");
}

/// Refuses MPI settings when the call does not run on `backend::mpi`.
inline void require_no_mpi_settings(const mpi_options& mpi, backend where, const char* call) {
    if (where != backend::mpi && !is_default(mpi))
        throw option_not_honoured(call, "options.mpi",
                                  "its settings apply to backend::mpi only (set .backend = parkit::backend::mpi, "
                                  "or leave .mpi at its defaults)");
}

/// The name of a backend as written after `parkit::backend::` ("unknown" for no enumerator), for
/// progress lines and refusals.
inline const char* backend_name(backend b) noexcept {
    switch (b) {
        case backend::sequential:
            return "sequential";
        case backend::threads:
            return "threads";
        case backend::processes:
            return "processes";
        case backend::mpi:
            return "mpi";
    }
    return "unknown";
}

/// Refuses a per-task time limit where the call cannot enforce one; `instead` says where it is
/// enforced.
inline void require_no_task_timeout(double task_timeout_s, const char* call, const std::string& instead) {
    if (task_timeout_s != 0.0) throw option_not_honoured(call, "options.task_timeout_s", instead);
}

/// The checks every call that runs on an executor's own workers makes: `backend` must be left at
/// its default or name the executor's own kind (`own`: the executor decides where tasks run),
/// and neither MPI settings, a stream window nor a checkpoint apply. `runs_on` says where the
/// call runs its tasks ("the pool runs tasks on its threads"), for the message. (`task_timeout_s`
/// is the caller's to check: each executor tells where a time limit is enforced instead.)
template <class Options>
void require_executor_map_options(const Options& opts, const char* call, backend own, const char* runs_on) {
    if (opts.backend != backend::threads && opts.backend != own) {
        const std::string name = backend_name(opts.backend);
        if (name == "unknown")
            throw std::invalid_argument(std::string(call) + ": options.backend has an unknown value (" +
                                        std::to_string(static_cast<int>(opts.backend)) + "); leave it out: " + runs_on);
        throw std::invalid_argument(std::string(call) + ": options.backend = " + name + " cannot apply: " + runs_on +
                                    "; use parkit::parallel_map(f, inputs, {.backend = parkit::backend::" + name +
                                    "}) of <parkit/parallel_map.hpp>");
    }
    require_no_mpi_settings(opts.mpi, backend::threads, call);
    require_no_in_flight_window(opts.max_in_flight, call);
    require_no_checkpoint(opts.checkpoint, call);
}

}  // namespace parkit::detail
