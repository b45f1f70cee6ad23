"""CPython's multiprocessing (fork) on the workloads of benches/processes.rs.

Prints one JSON object of medians in seconds (and a peak RSS in KiB). Run by the Rust
benchmark; by hand: python3 benches/python/processes_reference.py
"""
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time

CTX = mp.get_context("fork")
MESSAGES = 100_000


def nothing():
    pass


def identity(x):
    return x


def factorial(x):
    # The course's own loop (document 003).
    f = 1
    i = x
    while i > 0:
        f *= i
        i -= 1
    return f


def median_seconds(fn, repeat):
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def start_join():
    p = CTX.Process(target=nothing)
    p.start()
    p.join()


def pipe_sender(conn):
    for i in range(MESSAGES):
        conn.send(i)
    conn.close()


def pipe_throughput():
    recv_end, send_end = CTX.Pipe(duplex=False)
    p = CTX.Process(target=pipe_sender, args=(send_end,))
    p.start()
    send_end.close()
    for _ in range(MESSAGES):
        recv_end.recv()
    p.join()


def queue_sender(q):
    for i in range(MESSAGES):
        q.put(i)


def queue_throughput():
    q = CTX.Queue()
    p = CTX.Process(target=queue_sender, args=(q,))
    p.start()
    for _ in range(MESSAGES):
        q.get()
    p.join()


def main():
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    out = {"python": sys.version.split()[0]}
    out["start_join"] = median_seconds(start_join, 100)
    with CTX.Pool(1) as pool:
        pool.apply(identity, (1,))
        out["apply_round_trip"] = median_seconds(lambda: pool.apply(identity, (1,)), 300)
    out["pipe_100k"] = median_seconds(pipe_throughput, repeat)
    out["queue_100k"] = median_seconds(queue_throughput, repeat)
    with CTX.Pool(2) as pool:
        pool.map(identity, range(10))
        out["factorial_pool2"] = median_seconds(
            lambda: pool.map(factorial, range(1000, 2000)), repeat
        )
    out["factorial_sequential"] = median_seconds(
        lambda: [factorial(x) for x in range(1000, 2000)], repeat
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
