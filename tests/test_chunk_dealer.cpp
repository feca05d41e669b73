// The dealing of backend::mpi at cluster scale, without MPI: a discrete-event model of rank 0's
// coordinator (one request served at a time, `cost_ns` each) in front of the real chunk_dealer,
// with every other rank keeping one request per computing thread plus one prefetched open, as
// mpi/map_engine.hpp does. Simulated time, so the results are exact and machine-independent.
//
// `[.dealer_table]` (hidden; run `parkit_tests "[.dealer_table]"`) prints the table in
// docs/distributed.md "How far one coordinator goes".
#include <parkit/mpi/chunk_dealer.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <deque>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

namespace {

using parkit::detail::distributed_chunk;
using parkit::detail::distributed_map_job;
using parkit::detail::index_range;
using parkit::mpi::detail::chunk_dealer;

// What the model reports of one map.
struct model_result {
    double makespan_ns = 0;
    double efficiency = 0;             // work / (slots * makespan)
    double longest_first_wait_ns = 0;  // a slot's wait before its first task
    double longest_idle_ns = 0;        // a slot's longest wait between two chunks
    std::size_t requests = 0;          // answered by rank 0
    double coordinator_busy = 0;       // fraction of the makespan rank 0 spent answering
    std::size_t tasks_run = 0;
};

// A map of `tasks` tasks costing `task_ns(i)` each over `ranks` single-thread ranks; rank 0 computes
// on its own thread too (it takes chunks from the dealer without messages).
model_result simulate(int ranks, std::size_t tasks, const std::function<double(std::size_t)>& task_ns,
                      double cost_ns = parkit::mpi::detail::request_cost_ns) {
    distributed_map_job job;
    job.total = tasks;
    job.ranks = ranks;
    chunk_dealer dealer(job);

    struct slot_state {
        std::deque<index_range> queued;
        bool running = false;
        double free_at = 0;  // when its current chunk ends
        bool started = false;
    };
    std::vector<slot_state> slot(static_cast<std::size_t>(ranks));
    model_result out;

    enum class kind { chunk_done, request_arrives, reply_arrives };
    struct event {
        double at;
        kind what;
        int rank;
        index_range range;  // chunk_done: what ran; reply_arrives: what was dealt (empty: no more)
        bool operator>(const event& other) const { return at > other.at; }
    };
    std::priority_queue<event, std::vector<event>, std::greater<>> events;
    double coordinator_free_at = 0;
    double work_ns = 0;

    auto start_next = [&](int r, double now) {
        slot_state& s = slot[static_cast<std::size_t>(r)];
        if (s.running || s.queued.empty()) return;
        const index_range range = s.queued.front();
        s.queued.pop_front();
        double ns = 0;
        for (std::size_t i = range.begin; i < range.end; ++i) ns += task_ns(i);
        if (!s.started)
            out.longest_first_wait_ns = std::max(out.longest_first_wait_ns, now);
        else
            out.longest_idle_ns = std::max(out.longest_idle_ns, now - s.free_at);
        s.started = true;
        s.running = true;
        s.free_at = now + ns;
        events.push({now + ns, kind::chunk_done, r, range});
    };
    auto record = [&](int r, index_range range) {
        double ns = 0;
        for (std::size_t i = range.begin; i < range.end; ++i) ns += task_ns(i);
        distributed_chunk chunk;
        chunk.begin = range.begin;
        chunk.count = range.end - range.begin;
        chunk.rank = r;
        chunk.busy_ns = static_cast<std::int64_t>(ns);
        dealer.account(chunk);
        out.tasks_run += chunk.count;
        work_ns += ns;
    };
    // A request reaches rank 0, which answers requests one at a time in arrival order.
    auto request = [&](int r, double now, std::optional<index_range> finished) {
        const double served_at = std::max(now, coordinator_free_at) + cost_ns;
        coordinator_free_at = served_at;
        dealer.count_request();
        if (finished) record(r, *finished);
        index_range next{0, 0};
        if (!dealer.next(next)) next = {0, 0};
        events.push({served_at, kind::reply_arrives, r, next});
    };

    for (int r = 0; r < ranks; ++r) {
        const index_range first = parkit::mpi::detail::first_chunk(job, r, 0);
        if (first.begin < first.end)
            slot[static_cast<std::size_t>(r)].queued.push_back(first);
        else if (r > 0)
            request(r, 0, std::nullopt);
        if (r > 0) request(r, 0, std::nullopt);  // the prefetched request
        start_next(r, 0);
        if (r == 0 && !slot[0].running) {  // rank 0 with no static work deals to itself
            index_range next;
            if (dealer.next(next)) {
                slot[0].queued.push_back(next);
                start_next(0, 0);
            }
        }
    }
    double now = 0;
    while (!events.empty()) {
        const event e = events.top();
        events.pop();
        now = e.at;
        slot_state& s = slot[static_cast<std::size_t>(e.rank)];
        if (e.what == kind::chunk_done) {
            s.running = false;
            if (e.rank == 0) {
                record(0, e.range);
                index_range next;
                if (dealer.next(next)) s.queued.push_back(next);
            } else {
                request(e.rank, now, e.range);
            }
            start_next(e.rank, now);
        } else if (e.what == kind::reply_arrives && e.range.begin < e.range.end) {
            s.queued.push_back(e.range);
            start_next(e.rank, now);
        }
    }
    out.makespan_ns = now;
    out.efficiency = work_ns / (static_cast<double>(ranks) * now);
    out.requests = dealer.stats().requests;
    out.coordinator_busy = static_cast<double>(out.requests) * cost_ns / now;
    return out;
}

double one_ms(std::size_t) {
    return 1e6;
}
// The heavy-tail mix of benchmarks/mpi/mpi_balance.cpp: 1 ms, every 100th task 100 ms.
double heavy_tail(std::size_t i) {
    return i % 100 == 0 ? 1e8 : 1e6;
}

}  // namespace

TEST_CASE("chunk dealer model: 6400 ranks start at once and none waits for rank 0", "[mpi][dealer]") {
    // 2 s of 1 ms tasks per rank. Dealing only on request, the last of 6,400 ranks would wait
    // 64 ms for its first work; with static first chunks no rank waits at all.
    const model_result r = simulate(6400, 6400 * 2000, one_ms);
    CHECK(r.tasks_run == 6400 * 2000);
    CHECK(r.longest_first_wait_ns == 0);
    CHECK(r.efficiency > 0.95);
    CHECK(r.coordinator_busy < 0.5);
    CHECK(r.requests < 6400 * 12);
}

TEST_CASE("chunk dealer model: a few ranks keep the slow start and dynamic balance", "[mpi][dealer]") {
    const model_result r = simulate(16, 8000, heavy_tail);
    CHECK(r.tasks_run == 8000);
    CHECK(r.longest_first_wait_ns == 0);
    // The in-order bound for this mix is 0.919 (task 7,900 starts after 98 % of the work).
    CHECK(r.efficiency > 0.88);
    distributed_map_job job;
    job.total = 8000;
    job.ranks = 16;
    CHECK(parkit::mpi::detail::first_chunk_length(job) == 1);
}

TEST_CASE("chunk dealer model: requests are one per chunk plus one per other rank", "[mpi][dealer]") {
    for (int ranks : {2, 64, 1024}) {
        const model_result r = simulate(ranks, static_cast<std::size_t>(ranks) * 50, one_ms);
        CHECK(r.tasks_run == static_cast<std::size_t>(ranks) * 50);
        CHECK(r.requests >= static_cast<std::size_t>(2 * (ranks - 1)));
        // Slow start and guided chunks: O(log) chunks per slot, not one per task.
        CHECK(r.requests <= static_cast<std::size_t>(ranks) * 20);
    }
}

TEST_CASE("chunk dealer: static first chunks cover the first tasks in slot order", "[mpi][dealer]") {
    distributed_map_job job;
    job.total = 10;
    job.ranks = 3;
    job.threads_per_rank = 2;
    std::vector<std::size_t> seen;
    for (int rank = 0; rank < 3; ++rank) {
        for (int thread = 0; thread < 2; ++thread) {
            const index_range range = parkit::mpi::detail::first_chunk(job, rank, thread);
            for (std::size_t i = range.begin; i < range.end; ++i) seen.push_back(i);
        }
    }
    CHECK(seen == std::vector<std::size_t>{0, 1, 2, 3, 4, 5});
    chunk_dealer dealer(job);
    index_range next;
    REQUIRE(dealer.next(next));
    CHECK(next.begin == 6);  // the dealer starts after them
    job.total = 4;           // fewer tasks than slots: the last slots have none
    CHECK(parkit::mpi::detail::first_chunk(job, 2, 1).begin == parkit::mpi::detail::first_chunk(job, 2, 1).end);
    job.chunk_size = 3;
    job.total = 100;
    CHECK(parkit::mpi::detail::first_chunk(job, 1, 0).begin == 6);
    CHECK(parkit::mpi::detail::first_chunk(job, 1, 0).end == 9);
}

TEST_CASE("chunk dealer model table", "[.dealer_table]") {
    std::printf(
        "| ranks | work per rank | efficiency | longest wait for first work | longest idle | requests per rank | rank "
        "0 busy |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|---:|\n");
    for (std::size_t per_rank : {200, 2000}) {
        for (int ranks : {16, 256, 1024, 6400, 25600}) {
            const std::size_t tasks = static_cast<std::size_t>(ranks) * per_rank;
            const model_result r = simulate(ranks, tasks, one_ms);
            std::printf("| %d | %.1f s | %.1f %% | %.1f ms | %.1f ms | %.1f | %.0f %% |\n", ranks, per_rank * 1e-3,
                        100 * r.efficiency, r.longest_first_wait_ns * 1e-6, r.longest_idle_ns * 1e-6,
                        static_cast<double>(r.requests) / ranks, 100 * r.coordinator_busy);
        }
    }
}
