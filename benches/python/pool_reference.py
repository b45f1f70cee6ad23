"""CPython's multiprocessing on the workloads of benches/threads.rs, for the same table.

Prints one JSON object: median seconds per workload. Run by the Rust benchmark; it can
also be run by hand: python3 benches/python/pool_reference.py
"""
import json
import multiprocessing as mp
import statistics
import sys
import time


def square(x):
    return x * x


def factorial(x):
    # The course's own loop (document 003).
    f = 1
    i = x
    while i > 0:
        f *= i
        i -= 1
    return f


def identity(x):
    return x


def median_seconds(fn, repeat):
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main():
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    items = list(range(1_000_000))
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        pool.map(square, range(100))  # workers started and warm
        out = {
            "python": sys.version.split()[0],
            "squares_map": median_seconds(lambda: pool.map(square, items), repeat),
            "factorial_map": median_seconds(lambda: pool.map(factorial, range(1000, 2000)), repeat),
            "apply_round_trip": median_seconds(lambda: pool.apply(identity, (1,)), 200),
        }
    out["factorial_sequential"] = median_seconds(lambda: [factorial(x) for x in range(1000, 2000)], repeat)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
