#pragma once
/// @file
/// `parkit::shutdown_options`: how `thread_pool::shutdown` and `process_pool::shutdown` stop.

namespace parkit {

/// How an executor's `shutdown` stops, named at the call as Python's
/// `Executor.shutdown(wait=..., cancel_futures=...)`:
/// @code
/// pool.shutdown();                                          // wait for everything queued
/// pool.shutdown({.wait = false, .cancel_pending = true});  // cancel the queue, return at once
/// @endcode
/// A struct rather than two bools, so that a call says which flag it sets.
struct shutdown_options {
    /// Block until the workers have finished the tasks they will still run and exited;
    /// `false` returns at once (the pool finishes in the background, its destructor waits).
    bool wait = true;
    /// Cancel the queued tasks that have not started (their futures throw `task_cancelled`);
    /// `false` lets them run.
    bool cancel_pending = false;
};

}  // namespace parkit
