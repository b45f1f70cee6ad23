"""mpi4py.futures.MPIPoolExecutor on the workloads of benches/mpi.rs, for the same table.

Run by the Rust benchmark under mpirun, with rank 0 as the client and the other ranks as
workers:  mpirun -n 3 python -m mpi4py.futures benches/python/mpi_reference.py
Prints one JSON object: median seconds per workload.
"""
import json
import statistics
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


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
    with MPIPoolExecutor() as pool:
        workers = pool.num_workers
        list(pool.map(identity, range(100)))  # workers started and warm
        out = {
            "python": sys.version.split()[0],
            "mpi": MPI.Get_library_version().splitlines()[0],
            "workers": workers,
            "factorial_map": median_seconds(
                lambda: list(pool.map(factorial, range(1000, 2000), chunksize=16)), repeat
            ),
            "apply_round_trip": median_seconds(lambda: pool.submit(identity, 1).result(), 500),
        }
    out["factorial_sequential"] = median_seconds(
        lambda: [factorial(x) for x in range(1000, 2000)], repeat
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
