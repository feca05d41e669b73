#pragma once
/// @file
/// parkit: the parallel toolbox of scientific Python (threads, pools, `parallel_map`,
/// `as_completed`, chunking, progress, disk cache, task graphs, parallel loops) for C++20. This
/// header brings the core, the executors, `parallel_map`, `parallel_for` / `parallel_reduce`,
/// `memory`, `task_graph` and `process_pool`; kernels and MPI are included on their own.

#include "core/as_completed.hpp"
#include "core/collected.hpp"
#include "core/errors.hpp"
#include "core/future.hpp"
#include "core/indices.hpp"
#include "core/lines.hpp"
#include "core/n_jobs.hpp"
#include "core/options.hpp"
#include "core/progress_write.hpp"
#include "core/random.hpp"
#include "core/wait.hpp"
#include "core/when.hpp"
#include "core/worker_local.hpp"
#include "graph.hpp"
#include "imap.hpp"
#include "memory.hpp"
#include "parallel_for.hpp"
#include "parallel_map.hpp"
#include "process_pool.hpp"
#include "thread_pool.hpp"
#include "version.hpp"
