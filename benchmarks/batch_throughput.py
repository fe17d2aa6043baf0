"""Batch throughput: replications per second of a batch on 1 and 2 local worker processes (and
optionally a Dask LocalCluster), and the scheduling overhead of the executor.

A batch of one scenario is run on an executor whose workers are already started (a small warm-up
batch runs first: process start and imports are a one-off cost, reported separately). For each
run the script prints:

* ``reps_per_s``: replications simulated (with their KPIs) per second of wall time;
* ``task_s``: mean compute time inside one task (``--chunk`` replications);
* ``overhead``: ``(wall of the simulation phase × workers − Σ task compute) / Σ task compute``,
  the share of worker time not spent computing (dispatch, pickling, result handling, the
  catalog, and idle workers at the end of the batch). The simulation phase runs from the first
  simulation task submitted to the last one stored; the plan before it (``plan``) and the
  batch's final tables after it are reported in ``wall``. In parentheses, the part of it spent
  *between* tasks on a worker (dispatch proper), from the tasks' own start and end times; the
  rest is workers idle at the end of the batch (load imbalance of the last tasks).

The reference, measured in the same run, is what the machine itself allows: the same pure-Python
CPU-bound loop in one process twice in a row against two processes at once (``machine_ratio``;
2.0 on two idle cores, less when the cores are shared or are hyperthreads of one core). Last
line: ``batch_reps_per_s_1=… batch_reps_per_s_2=… ratio=… machine_ratio=… efficiency=…``
(``ratio`` = 2 workers ÷ 1 worker; ``efficiency`` = ratio ÷ machine_ratio).

Usage: ``python benchmarks/batch_throughput.py [SCENARIO] [--replications N] [--chunk K]
[--horizon DAYS] [--dask]``
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from scenarios import load_scenario
from tandem.batch import BatchResult, BatchSpec, Point, run_batch
from tandem.executors import Executor, make_executor


def _spin(n: int) -> float:
    """Pure-Python CPU work (the simulation is pure Python too); returns its own duration."""
    began = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i % 7
    return time.perf_counter() - began


def machine_ratio(n: int = 15_000_000) -> float:
    """Two units of CPU work: one process doing both ÷ two processes doing one each."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        pool.map(_spin, [1000, 1000])  # start both processes
        began = time.perf_counter()
        pool.apply(_spin, (n,))
        pool.apply(_spin, (n,))
        serial = time.perf_counter() - began
        began = time.perf_counter()
        pool.map(_spin, [n, n], chunksize=1)
        parallel = time.perf_counter() - began
    return serial / parallel


def measure(executor: Executor, spec: BatchSpec, root: Path) -> dict[str, float]:
    result: BatchResult = run_batch(spec, executor, root)
    plan_seconds = sum(float(p.get("seconds") or 0.0) for p in result.plans.values())
    sim_wall = result.simulation_seconds
    replications = int(result.kpis["replication"].nunique() * len(spec.points))
    # per worker: time between its tasks (dispatch) vs before its first / after its last task
    # (waiting for the plan to be stored, the tail of the batch when nothing is left to run)
    by_worker: dict[int, list[tuple[float, float]]] = {}
    for worker, start, end in result.timeline:
        by_worker.setdefault(worker, []).append((start, end))
    gaps = 0.0
    for spans in by_worker.values():
        spans.sort()
        gaps += sum(max(0.0, b[0] - a[1]) for a, b in itertools.pairwise(spans))
    busy = sum(end - start for _, start, end in result.timeline)
    return {
        "wall_s": result.seconds,
        "plan_s": plan_seconds,
        "reps_per_s": replications / sim_wall,
        "task_s": result.task_seconds / max(1, result.tasks_run),
        "overhead": (sim_wall * executor.workers - result.task_seconds) / result.task_seconds,
        "dispatch": gaps / busy,
    }


def run(kind: str, workers: int, spec: BatchSpec, warm: BatchSpec, root: Path) -> dict[str, float]:
    started = time.perf_counter()
    with make_executor(kind, workers) as executor:
        run_batch(warm, executor, root)  # start and warm the workers
        startup = time.perf_counter() - started
        numbers = measure(executor, spec, root)
    numbers["startup_s"] = startup
    label = f"{kind} {workers} worker{'s' * (workers > 1)}"
    print(
        f"{label:<18} chunk {spec.chunk_size:>2}: {numbers['reps_per_s']:6.2f} reps/s, "
        f"task {numbers['task_s']:5.2f} s, overhead {100 * numbers['overhead']:5.1f} % "
        f"(between tasks {100 * numbers['dispatch']:4.1f} %), "
        f"plan {numbers['plan_s']:.2f} s, wall {numbers['wall_s']:.1f} s, "
        f"startup {startup:.1f} s",
        flush=True,
    )
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="retailer_holiday")
    parser.add_argument("--replications", type=int, default=96)
    parser.add_argument("--chunk", type=int, default=4, help="replications per task")
    parser.add_argument("--horizon", type=int, default=91, help="horizon_days override")
    parser.add_argument("--dask", action="store_true", help="also a Dask LocalCluster of 2")
    args = parser.parse_args()

    scenario = load_scenario(args.scenario, {"horizon_days": args.horizon})
    point = (Point(0, scenario.name, scenario),)
    spec = BatchSpec("benchmark", scenario.name, point, args.replications, seed=1,
                     chunk_size=args.chunk)
    warm = BatchSpec("benchmark", f"{scenario.name}-warm-up", point, 2, seed=2, chunk_size=1)
    print(f"{args.scenario}, horizon {args.horizon} days, {args.replications} replications, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        one = run("local", 1, spec, warm, root)
        two = run("local", 2, spec, warm, root)
        small = BatchSpec("benchmark", scenario.name, point, args.replications, seed=1,
                          chunk_size=1)
        run("local", 2, small, warm, root)
        if args.dask:
            run("dask", 2, spec, warm, root)
    machine = machine_ratio()
    ratio = two["reps_per_s"] / one["reps_per_s"]
    print(f"batch_reps_per_s_1={one['reps_per_s']:.3f} batch_reps_per_s_2={two['reps_per_s']:.3f} "
          f"ratio={ratio:.2f} machine_ratio={machine:.2f} efficiency={ratio / machine:.2f}")


if __name__ == "__main__":
    main()
