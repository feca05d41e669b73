#!/usr/bin/python3
"""The chapter's own Python code paths, timed like parkit-bench times its implementations.

For the parkit-bench workloads this runs what a scientific-Python user would write (the
chapter's code): a plain loop (python_sequential), joblib's Parallel with the loky process
backend (python_joblib), concurrent.futures.ProcessPoolExecutor (python_processpool, pool made
inside the timed region, as in the chapter), joblib's threading backend (python_threading,
for numpy code that releases the GIL) and ThreadPoolExecutor(32) for waiting work.

Each case: one warm-up run of every implementation, then at least 5 interleaved repetitions;
median, min and max per implementation. Output: a table on stdout and, with --tsv FILE,
tab-separated rows (workload n impl workers median_s min_s max_s reps items) that
parkit-bench merges into its table and JSON. Exit status 3 when numpy, scipy or joblib is
missing.

Usage: /usr/bin/python3 chapter_peers.py [--quick] [--filter REGEX] [--workers 1,2] [--tsv FILE]
"""
import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

try:
    import numpy as np
    from joblib import Memory, Parallel, delayed
    from scipy.integrate import solve_ivp
    from scipy.optimize import curve_fit
except ImportError as missing:
    print(f"chapter_peers.py: {missing}; needs numpy, scipy and joblib", file=sys.stderr)
    sys.exit(3)

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


# --- The chapter's functions (module level, so processes can pickle them) -------------------

def van_der_pol_lsoda(mu, t_final=3000.0):
    """y(t_final) of Van der Pol, y'' = mu (1 - y^2) y' - y from (2, 0), with scipy's LSODA."""
    def rhs(t, y):
        return [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]]
    return solve_ivp(rhs, [0, t_final], [2.0, 0.0], method="LSODA").y[0, -1]


def square(x):
    return x * x


def solve_reaction(k, C_A0=1.0, t_final=10.0):
    def ode(t, C):
        return [-k * C[0]]
    sol = solve_ivp(ode, [0, t_final], [C_A0], dense_output=True)
    return k, (C_A0 - sol.y[0, -1]) / C_A0


def fin_tip_temperature(h, T0=100, T_inf=25, L=0.1, k=200, P=0.04, A=1e-4):
    m = np.sqrt(h * P / (k * A))
    return T_inf + (T0 - T_inf) / np.cosh(m * L)


def first_order_model(t, k, C0):
    return C0 * np.exp(-k * t)


def make_experiment(rng):
    t = np.linspace(0, 10, 20)
    k, c0 = rng.uniform(0.1, 2.0), rng.uniform(0.5, 2.0)
    c = c0 * np.exp(-k * t) + rng.normal(0, 0.05 * c0, t.size)
    return t, np.maximum(c, 0)


def fit_kinetic_model(data):
    t, c = data
    try:
        popt, _ = curve_fit(first_order_model, t, c, p0=[0.5, 1.0], bounds=(0, [10, 10]))
        return popt
    except RuntimeError as e:
        return str(e)


def numpy_heavy_computation(size):
    a = np.random.randn(size, size)
    return np.linalg.svd(a, compute_uv=False).sum()


def simulate_file_read(file_id):
    time.sleep(0.05)
    return file_id


def next_value(x):
    return x + 1


def cached_simulation(parameter):
    return 0.5 * parameter


# --- Implementations ---------------------------------------------------------------------------

def sequential(f, items):
    return lambda workers: [f(x) for x in items]


def joblib_loky(f, items):
    return lambda workers: Parallel(n_jobs=workers)(delayed(f)(x) for x in items)


def joblib_threading(f, items):
    return lambda workers: Parallel(n_jobs=workers, backend="threading")(delayed(f)(x) for x in items)


def process_pool_map(f, items):
    def run(workers):
        with ProcessPoolExecutor(max_workers=workers) as ex:
            return list(ex.map(f, items))
    return run


def thread_pool_map(f, items):
    def run(workers):
        with ThreadPoolExecutor(max_workers=workers) as ex:
            return list(ex.map(f, items))
    return run


class CachedCalls:
    """joblib.Memory hits: a cached function whose entries were all written beforehand."""

    def __init__(self, items):
        self.items = list(items)
        self.dir = None
        self.cached = None

    def __call__(self, workers):
        if self.cached is None:  # first call (the warm-up): misses fill the cache
            self.dir = tempfile.mkdtemp(prefix="parkit-bench-joblib-")
            self.cached = Memory(self.dir, verbose=0).cache(cached_simulation)
            for x in self.items:
                self.cached(x)
        return [self.cached(x) for x in self.items]

    def close(self):
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


class RunningProcessPool:
    """Per-task round trip through a ProcessPoolExecutor that is already running: all submitted,
    then all results awaited (throughput), or each result awaited before the next submit."""

    def __init__(self, items, one_at_a_time=False):
        self.items = items
        self.one_at_a_time = one_at_a_time
        self.pools = {}

    def __call__(self, workers):
        if workers not in self.pools:
            self.pools[workers] = ProcessPoolExecutor(max_workers=workers)
            list(self.pools[workers].map(next_value, range(workers * 4)))  # start the workers
        ex = self.pools[workers]
        if self.one_at_a_time:
            return [ex.submit(next_value, x).result() for x in self.items]
        futures = [ex.submit(next_value, x) for x in self.items]
        return [f.result() for f in futures]

    def close(self):
        for ex in self.pools.values():
            ex.shutdown()


def cases(quick):
    """(workload, n, items-per-run, [(impl, parallel, run(workers))]), the chapter's paths."""
    rng = np.random.default_rng(123)
    h = np.random.default_rng(42).normal(50, 5, 10_000)
    h = h[h > 0]
    out = [
        ("map_tiny", 10_000, 0, [("python_sequential", False, sequential(square, range(10_000))),
                                 ("python_joblib", True, joblib_loky(square, range(10_000)))]),
        ("reaction_sweep", 200, 0, [("python_sequential", False, sequential(solve_reaction, np.linspace(0.01, 2, 200))),
                                    ("python_joblib", True, joblib_loky(solve_reaction, np.linspace(0.01, 2, 200))),
                                    ("python_processpool", True,
                                     process_pool_map(solve_reaction, np.linspace(0.01, 2, 200)))]),
        ("stiff_vdp", 8, 8, [("python_lsoda", False, sequential(van_der_pol_lsoda, [1000.0] * 8))]),
        ("fin_monte_carlo", 10_000, 0, [("python_sequential", False, sequential(fin_tip_temperature, h)),
                                        ("python_processpool", True, process_pool_map(fin_tip_temperature, h))]),
        ("curve_fit", 100, 0, [("python_sequential", False,
                                sequential(fit_kinetic_model, [make_experiment(rng) for _ in range(100)])),
                               ("python_joblib", True,
                                joblib_loky(fit_kinetic_model, [make_experiment(rng) for _ in range(100)]))]),
        ("svd", 20, 0, [("python_sequential", False, sequential(numpy_heavy_computation, [200] * 20)),
                        ("python_joblib", True, joblib_loky(numpy_heavy_computation, [200] * 20)),
                        ("python_threading", True, joblib_threading(numpy_heavy_computation, [200] * 20))]),
        ("io_wait", 32, 0, [("python_sequential", False, sequential(simulate_file_read, range(32))),
                            ("python_threads", True, thread_pool_map(simulate_file_read, range(32)))]),
        ("process_roundtrip", 2_000, 2_000, [("python_processpool", True, RunningProcessPool(range(2_000))),
                                             ("python_processpool_one_at_a_time", True,
                                              RunningProcessPool(range(2_000), one_at_a_time=True))]),
        # ~1 ms per joblib.Memory hit: the 1,000-call case only.
        ("cache_hit", 1_000, 1_000, [("python_joblib_memory", False, CachedCalls(range(1_000)))]),
    ]
    if not quick:
        ks = np.linspace(0.01, 2, 20_000)
        out.insert(2, ("reaction_sweep", 20_000, 0, [("python_sequential", False, sequential(solve_reaction, ks)),
                                                     ("python_joblib", True, joblib_loky(solve_reaction, ks))]))
        # curve_fit 10,000 is left out: ~6 ms per scipy fit makes one sequential run ~1 minute.
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--filter", default="")
    parser.add_argument("--workers", default=str(len(os.sched_getaffinity(0))))
    parser.add_argument("--tsv", default="")
    args = parser.parse_args()
    worker_counts = sorted({int(w) for w in args.workers.split(",")})
    pattern = re.compile(args.filter)
    rows = []
    print(f"chapter_peers.py: Python {sys.version.split()[0]}, numpy {np.__version__}, workers {worker_counts}",
          flush=True)
    for workload, n, items, impls in cases(args.quick):
        if not pattern.search(f"{workload}/{n}"):
            continue
        counts = [32] if workload == "io_wait" else worker_counts
        entries = [(name, w, run) for name, parallel, run in impls for w in (counts if parallel else [1])]
        for _, w, run in entries:  # warm-up (starts loky's reusable workers too)
            run(w)
        samples = {(name, w): [] for name, w, _ in entries}
        for rep in range(5):
            for k in range(len(entries)):
                name, w, run = entries[(k + rep) % len(entries)]
                start = time.perf_counter()
                run(w)
                samples[(name, w)].append(time.perf_counter() - start)
        for name, w, _ in entries:
            s = samples[(name, w)]
            rows.append((workload, n, name, w, statistics.median(s), min(s), max(s), len(s), items))
            print(f"  {workload:<18} {n:>8} {name:<20} {w:>3}  median {statistics.median(s):.6f} s", flush=True)
        for _, _, run in impls:
            if hasattr(run, "close"):
                run.close()
    if args.tsv:
        with open(args.tsv, "w") as f:
            for r in rows:
                f.write("\t".join(str(v) for v in r) + "\n")


if __name__ == "__main__":
    main()
