#pragma once
/// @file
/// `parkit::task_graph`: lazy task graphs like dask's `delayed` — for work whose steps depend
/// on each other, which a plain map cannot express:
/// @code
/// parkit::task_graph g;
/// auto data = g.add_named("load", load, "run1.csv");
/// auto fit = g.add_named("fit", fit_model, data, 0.5);   // data's result is passed in
/// auto summary = g.add(summarise, fit, data);
/// g.compute();                                            // ready nodes run in parallel
/// const report& r = g.get(summary);
/// @endcode
///
/// - A node's arguments are values (copied or moved in when the node is added) or handles of
///   other nodes (`node<T>`), replaced by those nodes' results (passed as `const T&`); a
///   `std::vector<node<T>>` is passed as a `std::vector<T>` of the results (dask's lists of
///   delayed values, e.g. one summary node over many fits). A node
///   can only refer to nodes added before it, so a cycle cannot be built.
/// - `compute` runs every node not computed yet; nodes whose inputs are done run in parallel on
///   a thread pool (the calling thread helps), or one after another with
///   `{.backend = backend::sequential}`. Nodes added later are computed by the next `compute`.
/// - A node that throws is *failed*; its dependents are *skipped* (not run) and report an error
///   naming the failed node; independent branches still run to the end. `compute` then throws
///   `parkit::node_error` for the lowest-numbered failed node; `get` on any node that has a
///   result still works.
/// - Scheduling costs well under a microsecond per node (see docs/cache_and_graphs.md), so
///   graphs of 100,000 small nodes are fine.
/// - `to_dot()` exports the graph for Graphviz.
/// - `{.progress = true}` reports finished nodes on stderr as `parallel_map` does (a bar on a
///   terminal); `on_progress` gets the same snapshots.
///
/// A graph is not itself thread-safe: add nodes and call compute/get from one thread at a time
/// (the nodes' functions run concurrently, so they must be safe to call that way).

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "core/n_jobs.hpp"
#include "core/options.hpp"
#include "detail/progress/progress_reporter.hpp"
#include "thread_pool.hpp"

namespace parkit {

class task_graph;

/// A handle to a node of a `task_graph` whose result has type `T` (`void` for functions that
/// return nothing). Pass it as an argument of a later node to use the result there.
template <class T>
class node {
public:
    /// The type of the node's result.
    using value_type = T;

    /// The node's number in its graph (0 for the first node added).
    [[nodiscard]] std::size_t id() const noexcept { return id_; }

private:
    friend class task_graph;
    node(std::uint64_t graph, std::size_t id) noexcept : graph_(graph), id_(id) {}
    std::uint64_t graph_;
    std::size_t id_;
};

/// Where a node of a `task_graph` stands.
enum class node_state {
    pending,  ///< not computed yet
    done,     ///< ran and has a result
    failed,   ///< ran and threw
    skipped,  ///< not run because an input failed (or was skipped)
};

/// A node of a task graph failed, or could not run because an input failed. Names the node
/// asked about and the node that actually failed; carries that node's exception (also as the
/// nested exception, for `std::rethrow_if_nested`).
class node_error : public std::runtime_error, public std::nested_exception {
public:
    /// Builds the error; `message` is the full text. Build it while `original` is being handled
    /// so the nested exception is set (`task_graph` does).
    node_error(std::string message, std::size_t node, std::size_t failed_node, std::string failed_name,
               std::exception_ptr original)
        : std::runtime_error(std::move(message)),
          node_(node),
          failed_node_(failed_node),
          failed_name_(std::move(failed_name)),
          original_(std::move(original)) {}

    /// The node whose result was asked for (or that compute reports).
    [[nodiscard]] std::size_t node_id() const noexcept { return node_; }
    /// The node that threw (equal to `node_id()` when the node failed itself).
    [[nodiscard]] std::size_t failed_node_id() const noexcept { return failed_node_; }
    /// The failed node's name (empty when it was added without one).
    [[nodiscard]] const std::string& failed_node_name() const noexcept { return failed_name_; }
    /// The exception the failed node threw.
    [[nodiscard]] const std::exception_ptr& original() const noexcept { return original_; }
    /// Throws the failed node's own exception.
    [[noreturn]] void rethrow_original() const { std::rethrow_exception(original_); }

private:
    std::size_t node_;
    std::size_t failed_node_;
    std::string failed_name_;
    std::exception_ptr original_;
};

/// Options of `task_graph::compute`.
struct graph_options {
    /// Workers, joblib rule (-1 = all cores); at most the process-wide pool's size + 1 (the
    /// calling thread).
    int n_jobs = -1;
    /// `threads` (the process-wide pool) or `sequential` (the calling thread, in node order).
    parkit::backend backend = parkit::backend::threads;
    /// Report the nodes that ran (finished or failed) on stderr, as `options::progress`; a
    /// compute that throws ends with "stopped after a failure", skipped nodes counted as not run.
    bool progress = false;
    /// Called with a `progress_info` over this compute's nodes, as `options::on_progress`.
    std::function<void(const progress_info&)> on_progress = {};
};

namespace detail {

template <class T>
inline constexpr bool is_node_v = false;
template <class T>
inline constexpr bool is_node_v<node<T>> = true;

template <class T>
inline constexpr bool is_node_vector_v = false;
template <class T>
inline constexpr bool is_node_vector_v<std::vector<node<T>>> = true;

/// What a node's function receives for a stored argument of type `A`: the stored value (moved
/// in: each node runs once) — or, for a node handle, the upstream result.
template <class A>
struct graph_argument {
    using type = A&&;
};
/// A node handle argument: the upstream node's result, by const reference.
template <class T>
struct graph_argument<node<T>> {
    using type = const T&;
    using value = T;
};
/// A vector of node handles: their results, in the order of the handles.
template <class T>
struct graph_argument<std::vector<node<T>>> {
    using type = std::vector<T>;  // the results, copied, in the order of the handles
};
/// See `graph_argument`.
template <class A>
using graph_argument_t = typename graph_argument<A>::type;

/// The untyped part of a node: its links, its scheduling counters and its outcome.
struct graph_node_base {
    static constexpr std::size_t none = static_cast<std::size_t>(-1);

    virtual ~graph_node_base() = default;
    /// Runs the function (inputs are done); throws what it throws.
    virtual void run(const task_graph& graph) = 0;

    std::string name;
    std::vector<std::size_t> inputs;              // distinct upstream nodes
    std::vector<std::size_t> dependents;          // downstream nodes
    std::atomic<std::size_t> waiting{0};          // inputs not finished in the current compute
    std::atomic<std::size_t> failed_input{none};  // lowest failed root among the inputs
    node_state state = node_state::pending;       // written by the runner that finishes the node
    std::exception_ptr error;                     // failed: its exception
};

/// A node whose result has type `T`: where dependents find it.
template <class T>
struct graph_value_node : graph_node_base {
    std::optional<T> value;
};

/// A node of a `void` function: no result.
template <>
struct graph_value_node<void> : graph_node_base {};

/// A node computing `F(args...)` into a `T`.
template <class T, class F, class... Args>
struct graph_node final : graph_value_node<T> {
    template <class G, class... A>
    explicit graph_node(G&& f, A&&... args) : call(std::in_place, std::forward<G>(f), std::forward<A>(args)...) {}

    void run(const task_graph& graph) override;

    std::optional<std::tuple<F, Args...>> call;  // released once the node ran
};

}  // namespace detail

/// A graph of tasks built from functions and their arguments (values or other nodes), computed
/// in parallel on demand; see the file comment.
class task_graph {
public:
    /// An empty graph.
    task_graph() : id_(next_graph_id()) {}
    task_graph(const task_graph&) = delete;
    task_graph& operator=(const task_graph&) = delete;
    /// Moves the nodes; handles of the old graph stay valid for the new one.
    task_graph(task_graph&&) noexcept = default;
    /// Moves the nodes; handles of the old graph stay valid for the new one.
    task_graph& operator=(task_graph&&) noexcept = default;
    ~task_graph() = default;

    /// Adds a node computing `f(args...)`, where each argument that is a `node<T>` of this graph
    /// is replaced by that node's result. Returns the new node's handle (`node<R>`).
    /// @throws std::invalid_argument when a handle belongs to another graph.
    template <class F, class... Args>
    requires std::invocable<std::decay_t<F> &&, detail::graph_argument_t<std::decay_t<Args>>...> auto add(
        F&& f, Args&&... args) {
        return add_named(std::string(), std::forward<F>(f), std::forward<Args>(args)...);
    }

    /// `add` with a name, used in error messages and `to_dot()`.
    template <class F, class... Args>
    requires std::invocable<std::decay_t<F> &&, detail::graph_argument_t<std::decay_t<Args>>...> auto add_named(
        std::string name, F&& f, Args&&... args) {
        using R = std::remove_cvref_t<
            std::invoke_result_t<std::decay_t<F>&&, detail::graph_argument_t<std::decay_t<Args>>...>>;
        static_assert((!std::is_same_v<std::decay_t<Args>, node<void>> && ...),
                      "parkit::task_graph: a node<void> has no result to pass as an argument");
        const std::size_t id = nodes_.size();
        std::vector<std::size_t> inputs;
        (collect_input(inputs, args), ...);
        if (inputs.size() > 1) {
            std::sort(inputs.begin(), inputs.end());
            inputs.erase(std::unique(inputs.begin(), inputs.end()), inputs.end());
        }

        auto made = std::make_unique<detail::graph_node<R, std::decay_t<F>, std::decay_t<Args>...>>(std::forward<F>(f),
                                                                                                    std::forward<Args>(
                                                                                                        args)...);
        made->name = std::move(name);
        made->inputs = std::move(inputs);
        // Room first, so a failing allocation leaves the graph unchanged.
        if (nodes_.size() == nodes_.capacity()) nodes_.reserve(std::max<std::size_t>(64, 2 * nodes_.capacity()));
        for (std::size_t input : made->inputs) nodes_[input]->dependents.push_back(id);
        nodes_.push_back(std::move(made));
        return node<R>(id_, id);
    }

    /// Runs every node not computed yet, ready nodes in parallel (see `graph_options`), and
    /// returns when all have finished.
    /// @throws node_error for the lowest-numbered node that failed (after every node that
    ///         could run has run); std::invalid_argument for bad options.
    void compute(const graph_options& opts = {}) {
        if (opts.backend == backend::sequential) return run_compute(nullptr, 1, opts);
        if (opts.backend != backend::threads) {
            throw std::invalid_argument("parkit::task_graph::compute: options.backend must be threads or sequential");
        }
        const int workers = resolve_n_jobs(opts.n_jobs);
        thread_pool& pool = default_thread_pool();
        run_compute(&pool, std::min<int>(workers, static_cast<int>(pool.size()) + 1), opts);
    }

    /// Runs every node not computed yet on `pool` (all its workers plus the calling thread).
    /// @throws node_error as `compute(options)`.
    void compute(thread_pool& pool) { run_compute(&pool, static_cast<int>(pool.size()) + 1, {}); }

    /// The result of a computed node.
    /// @throws node_error when the node failed or was skipped; std::logic_error when it was not
    ///         computed yet; std::invalid_argument for a handle of another graph.
    template <class T>
    decltype(auto) get(const node<T>& n) const {
        check_handle(n, "get");
        const detail::graph_node_base& base = *nodes_[n.id_];
        if (base.state == node_state::pending) {
            throw std::logic_error("parkit::task_graph::get: node " + describe(n.id_) +
                                   " was not computed yet (call compute() first)");
        }
        if (base.state != node_state::done) throw_node_error(n.id_);
        if constexpr (!std::is_void_v<T>) return result_of<T>(n.id_);
    }

    /// Where the node stands (pending, done, failed, skipped).
    template <class T>
    [[nodiscard]] node_state state(const node<T>& n) const {
        check_handle(n, "state");
        return nodes_[n.id_]->state;
    }

    /// Number of nodes.
    [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }

    /// The graph in Graphviz DOT: one box per node (its name or number, coloured by state) and
    /// an edge from every input to its user. Render with `dot -Tsvg graph.dot -o graph.svg`.
    [[nodiscard]] std::string to_dot() const {
        std::string out = "digraph parkit {\n  rankdir=LR;\n  node [shape=box, style=filled];\n";
        static constexpr const char* colours[] = {"white", "palegreen", "salmon", "lightgrey"};
        // Appends only: GCC 12 warns falsely (-Wrestrict) on "literal" + string.
        for (std::size_t id = 0; id < nodes_.size(); ++id) {
            const auto& n = *nodes_[id];
            out.append("  n").append(std::to_string(id)).append(" [label=\"");
            if (n.name.empty()) {
                out.append("#").append(std::to_string(id));
            } else {
                out.append(dot_escape(n.name));
            }
            out.append("\", fillcolor=").append(colours[static_cast<int>(n.state)]).append("];\n");
        }
        for (std::size_t id = 0; id < nodes_.size(); ++id) {
            for (std::size_t input : nodes_[id]->inputs) {
                out.append("  n")
                    .append(std::to_string(input))
                    .append(" -> n")
                    .append(std::to_string(id))
                    .append(";\n");
            }
        }
        out.append("}\n");
        return out;
    }

private:
    template <class T, class F, class... Args>
    friend struct detail::graph_node;

    static std::uint64_t next_graph_id() noexcept {
        static std::atomic<std::uint64_t> counter{1};
        return counter.fetch_add(1, std::memory_order_relaxed);
    }

    template <class T>
    void check_handle(const node<T>& n, const char* function) const {
        if (n.graph_ != id_ || n.id_ >= nodes_.size()) {
            throw std::invalid_argument(std::string("parkit::task_graph::") + function +
                                        ": the node handle belongs to another graph");
        }
    }

    template <class A>
    void collect_input(std::vector<std::size_t>& inputs, const A& arg) const {
        if constexpr (detail::is_node_v<A>) {
            check_handle(arg, "add");
            inputs.push_back(arg.id_);
        } else if constexpr (detail::is_node_vector_v<A>) {
            for (const auto& handle : arg) collect_input(inputs, handle);
        }
    }

    // The stored result of node `id` (done).
    template <class T>
    const T& result_of(std::size_t id) const noexcept {
        return *static_cast<const detail::graph_value_node<T>&>(*nodes_[id]).value;
    }

    // Name used in messages: 'fit' (#2), or #2 for an unnamed node.
    std::string describe(std::size_t id) const {
        const std::string& name = nodes_[id]->name;
        std::string text;  // appends only: GCC 12 warns falsely (-Wrestrict) on "literal" + string
        if (!name.empty()) text.append("'").append(name).append("' (");
        text.append("#").append(std::to_string(id));
        if (!name.empty()) text.append(")");
        return text;
    }

    static std::string dot_escape(const std::string& text) {
        std::string out;
        for (char c : text) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        return out;
    }

    [[noreturn]] void throw_node_error(std::size_t id, const std::string& note = {}) const {
        const auto& n = *nodes_[id];
        const std::size_t root = n.state == node_state::failed ? id : n.failed_input.load();
        const std::exception_ptr& original = nodes_[root]->error;
        std::string message = "parkit: graph node " + describe(id);
        if (root == id) {
            message += " failed with ";
        } else {
            message += " was not run: its input " + describe(root) + " failed with ";
        }
        message += detail::exception_type_name(original) + ": " + detail::exception_message(original) + note;
        try {
            std::rethrow_exception(original);
        } catch (...) {
            throw node_error(std::move(message), id, root, nodes_[root]->name, original);
        }
    }

    // What a node's function receives for stored argument `arg`.
    template <class A>
    decltype(auto) argument(A& arg) const {
        if constexpr (detail::is_node_v<A>) {
            return result_of<typename detail::graph_argument<A>::value>(arg.id_);
        } else if constexpr (detail::is_node_vector_v<A>) {
            typename detail::graph_argument<A>::type results;
            results.reserve(arg.size());
            for (const auto& handle : arg) results.push_back(result_of<typename A::value_type::value_type>(handle.id_));
            return results;
        } else {
            return static_cast<A&&>(arg);  // each node runs once: its stored values move in
        }
    }

    class scheduler;
    void run_compute(thread_pool* pool, int workers, const graph_options& opts);
    void prepare_pending(std::vector<std::size_t>& ready) const;

    std::uint64_t id_;
    std::size_t first_pending_ = 0;  // nodes before it were computed by an earlier compute
    std::vector<std::unique_ptr<detail::graph_node_base>> nodes_;
};

namespace detail {

template <class T, class F, class... Args>
void graph_node<T, F, Args...>::run(const task_graph& graph) {
    auto invoke_stored = [&graph](F& f, Args&... args) -> decltype(auto) {
        return std::invoke(std::move(f), graph.argument(args)...);
    };
    try {
        if constexpr (std::is_void_v<T>) {
            std::apply(invoke_stored, *call);
        } else {
            this->value.emplace(std::apply(invoke_stored, *call));
        }
    } catch (...) {
        call.reset();
        throw;
    }
    call.reset();
}

}  // namespace detail

/// One compute: hands ready nodes to the calling thread and the runner tasks. A finished node
/// makes its dependents ready; the finishing thread keeps one of them to run next (no queue
/// round trip along chains) and shares the others through a LIFO stack.
class task_graph::scheduler {
public:
    scheduler(task_graph& graph, std::vector<std::size_t> ready, std::size_t count, detail::progress_reporter& progress)
        : graph_(graph), progress_(progress), ready_(std::move(ready)), remaining_(count) {}

    /// Runs ready nodes until every node of this compute has finished.
    void work() noexcept {
        std::size_t next = none;
        for (;;) {
            if (next == none) {
                std::unique_lock lock(mutex_);
                ++idle_;
                ready_cv_.wait(lock, [&] { return !ready_.empty() || finished_; });
                --idle_;
                if (ready_.empty()) return;
                next = ready_.back();
                ready_.pop_back();
            }
            next = finish(next);
        }
    }

private:
    static constexpr std::size_t none = detail::graph_node_base::none;

    // Runs (or skips) node `id`, releases its dependents; returns one that became ready, if any.
    std::size_t finish(std::size_t id) {
        detail::graph_node_base& n = *graph_.nodes_[id];
        std::size_t root = n.failed_input.load(std::memory_order_relaxed);
        if (root != none) {
            n.state = node_state::skipped;
        } else {
            try {
                n.run(graph_);
                n.state = node_state::done;
            } catch (...) {
                n.error = std::current_exception();
                n.state = node_state::failed;
                root = id;
            }
            progress_.advance(1);
        }
        std::size_t keep = none;
        bool shared = false;
        for (std::size_t d : n.dependents) {
            detail::graph_node_base& dependent = *graph_.nodes_[d];
            if (root != none) {
                std::size_t seen = dependent.failed_input.load(std::memory_order_relaxed);
                while (root < seen &&
                       !dependent.failed_input.compare_exchange_weak(seen, root, std::memory_order_relaxed)) {
                }
            }
            if (dependent.waiting.fetch_sub(1, std::memory_order_acq_rel) != 1) continue;
            if (keep == none) {
                keep = d;
            } else {
                std::lock_guard lock(mutex_);
                ready_.push_back(d);
                shared = shared || idle_ > 0;
            }
        }
        if (shared) ready_cv_.notify_all();
        if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            {
                std::lock_guard lock(mutex_);
                finished_ = true;
            }
            ready_cv_.notify_all();
        }
        return keep;
    }

    task_graph& graph_;
    detail::progress_reporter& progress_;
    std::mutex mutex_;
    std::condition_variable ready_cv_;
    std::vector<std::size_t> ready_;  // guarded by mutex_
    int idle_ = 0;                    // guarded by mutex_
    bool finished_ = false;           // guarded by mutex_
    std::atomic<std::size_t> remaining_;
};

// Sets the counters of the nodes this compute runs; `ready` gets those with no pending input,
// highest id first (the stack then hands out the lowest first).
inline void task_graph::prepare_pending(std::vector<std::size_t>& ready) const {
    for (std::size_t id = first_pending_; id < nodes_.size(); ++id) {
        detail::graph_node_base& n = *nodes_[id];
        std::size_t waiting = 0;
        std::size_t root = detail::graph_node_base::none;
        for (std::size_t input : n.inputs) {
            const detail::graph_node_base& in = *nodes_[input];
            if (input >= first_pending_) {
                ++waiting;
            } else if (in.state == node_state::failed) {
                root = std::min(root, input);
            } else if (in.state == node_state::skipped) {
                root = std::min(root, in.failed_input.load(std::memory_order_relaxed));
            }
        }
        n.waiting.store(waiting, std::memory_order_relaxed);
        n.failed_input.store(root, std::memory_order_relaxed);
        if (waiting == 0) ready.push_back(id);
    }
    std::reverse(ready.begin(), ready.end());
}

inline void task_graph::run_compute(thread_pool* pool, int workers, const graph_options& opts) {
    const std::size_t count = nodes_.size() - first_pending_;
    if (count == 0) return;
    std::vector<std::size_t> ready;
    prepare_pending(ready);
    detail::progress_reporter progress(opts.progress, opts.on_progress, count, workers,
                                       pool != nullptr ? "threads" : "sequential");
    scheduler run(*this, std::move(ready), count, progress);

    using runner_future = decltype(pool->submit(std::declval<void (*)()>()));
    std::vector<runner_future> runners;
    if (pool != nullptr && workers > 1 && count > 1) {
        const std::size_t extra = std::min(static_cast<std::size_t>(workers - 1), count - 1);
        runners.reserve(extra);
        try {
            for (std::size_t k = 0; k < extra; ++k) runners.push_back(pool->submit([&run] { run.work(); }));
        } catch (...) {
            // A closed pool: the calling thread computes alone.
        }
    }
    run.work();
    for (auto& r : runners) {
        if (!r.cancel()) r.wait();
    }
    progress.finish();

    const std::size_t begin = first_pending_;
    first_pending_ = nodes_.size();
    std::size_t first_failed = nodes_.size();
    std::size_t not_done = 0;
    for (std::size_t id = begin; id < nodes_.size(); ++id) {
        const node_state st = nodes_[id]->state;
        if (st != node_state::done) ++not_done;
        if (st == node_state::failed && first_failed == nodes_.size()) first_failed = id;
    }
    if (first_failed != nodes_.size()) {
        throw_node_error(first_failed, " (" + std::to_string(not_done) + " of " + std::to_string(count) +
                                           " nodes failed or were skipped; all others finished)");
    }
}

}  // namespace parkit
