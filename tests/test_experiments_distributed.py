"""Experiments on worker processes: the same numbers, bit for bit, in this process, on a local
process pool of one or two workers and on a Dask LocalCluster; a worker killed mid-batch loses
nothing; a batch interrupted from outside resumes through the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from scenarios import scenario_from_dict
from tandem.batch import BatchSpec, Point, Task, run_batch
from tandem.cli import app
from tandem.executors import DaskExecutor, ExecutorKind, InlineExecutor, LocalExecutor
from tests.conftest import tiny_scenario_dict

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _spec(replications: int = 8, chunk: int | None = 2, horizon: int = 365) -> BatchSpec:
    low = scenario_from_dict(tiny_scenario_dict(horizon_days=horizon))
    data = tiny_scenario_dict(horizon_days=horizon)
    data["nodes"]["wh"]["initial_inventory"] = {"widget": 9}
    high = scenario_from_dict(data)
    return BatchSpec("compare", "dist", (Point(0, "low", low), Point(1, "high", high)),
                     replications, seed=2024, chunk_size=chunk)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pd.DataFrame:
    return run_batch(_spec(), InlineExecutor(), tmp_path_factory.mktemp("inline")).kpis


@pytest.fixture(scope="module")
def dask_scheduler():
    """A LocalCluster of two worker processes (with nannies, which restart killed workers),
    reached by its scheduler address like a remote cluster."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_local_pool_gives_the_same_numbers(reference, tmp_path: Path, workers: int) -> None:
    # automatic chunking: the chunk size (and so the tasks) depend on the worker count
    spec = _spec(chunk=None) if workers == 1 else _spec()
    with LocalExecutor(workers) as executor:
        result = run_batch(spec, executor, tmp_path)
    pd.testing.assert_frame_equal(result.kpis, reference, check_exact=True)


def test_dask_cluster_gives_the_same_numbers(reference, dask_scheduler, tmp_path: Path) -> None:
    with DaskExecutor(dask_scheduler) as executor:
        assert executor.workers == 2
        assert executor.describe() == f"dask {dask_scheduler} (2 workers)"
        result = run_batch(_spec(chunk=3), executor, tmp_path)
    pd.testing.assert_frame_equal(result.kpis, reference, check_exact=True)


def test_dask_scheduler_from_the_environment(dask_scheduler, monkeypatch) -> None:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask_scheduler)
    with DaskExecutor() as executor:
        assert executor.address == dask_scheduler


@pytest.mark.slow
def test_killed_local_worker_loses_nothing(reference, tmp_path: Path) -> None:
    with LocalExecutor(2) as executor:
        killed: list[int] = []

        def kill_one(task: Task) -> None:
            if not killed:
                pid = executor.worker_pids()[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        result = run_batch(_spec(), executor, tmp_path, on_task_done=kill_one)
        assert killed and killed[0] not in executor.worker_pids()
    assert result.tasks_run == 8
    pd.testing.assert_frame_equal(result.kpis, reference, check_exact=True)
    con = duckdb.connect(str(tmp_path / "catalog.duckdb"), read_only=True)
    try:
        retried = con.execute("SELECT count(*) FROM batch_tasks WHERE attempts > 1").fetchone()[0]
    finally:
        con.close()
    assert retried >= 1          # the tasks the dead worker held were run again


def test_killed_dask_worker_loses_nothing(reference, dask_scheduler, tmp_path: Path) -> None:
    with DaskExecutor(dask_scheduler) as executor:
        killed: list[int] = []

        def kill_one(task: Task) -> None:
            if not killed:
                busy = {address: keys for address, keys in executor.client.processing().items()
                        if keys}
                address = sorted(busy)[0]           # a worker in the middle of a task
                pid = executor.worker_pids()[address]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        result = run_batch(_spec(), executor, tmp_path, on_task_done=kill_one)
        assert killed and killed[0] not in executor.worker_pids().values()  # restarted
    pd.testing.assert_frame_equal(result.kpis, reference, check_exact=True)
    assert result.tasks_run == 8
    con = duckdb.connect(str(tmp_path / "catalog.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT count(*) FROM batch_kpis").fetchone()[0]
    finally:
        con.close()
    assert rows == len(reference)


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_cli_commands_agree_across_executors(dask_scheduler, tmp_path: Path) -> None:
    base = _write(tmp_path / "base.yaml", tiny_scenario_dict(name="base", horizon_days=120))
    more = tiny_scenario_dict(name="more", horizon_days=120)
    more["nodes"]["wh"]["initial_inventory"] = {"widget": 9}
    more_path = _write(tmp_path / "more.yaml", more)
    suite = _write(tmp_path / "suite.yaml", {
        "name": "dist", "replications": 3,
        "defaults": {"tolerances": {"fill_rate": {"abs": 0.01}}},
        "cases": [{"name": "base", "scenario": "base.yaml"},
                  {"name": "more", "scenario": "more.yaml"}],
    })
    commands = {
        "compare": ["compare", str(base), str(more_path), "-n", "4"],
        "sweep": ["sweep", str(base), "--set", "nodes.wh.initial_inventory.widget=3,9", "-n", "3"],
        "regress": ["regress", str(suite), "--baseline", str(tmp_path / "baseline.json"),
                    "--update-baseline"],
    }
    executors = {"inline": ["--executor", "inline"],
                 "local": ["--executor", "local", "--workers", "2"],
                 "dask": ["--executor", "dask", "--workers", "2"],          # its own LocalCluster
                 "cluster": ["--executor", "dask", "--scheduler", dask_scheduler]}
    plan = {"compare": ("inline", "local", "dask"), "sweep": ("inline", "cluster"),
            "regress": ("inline", "local", "cluster")}
    for name, command in commands.items():
        tables = {}
        for kind in plan[name]:
            runs = tmp_path / f"{name}-{kind}"
            result = runner.invoke(app, [*command, *executors[kind], "--runs-dir", str(runs)])
            assert result.exit_code == 0, result.output
            (folder,) = (runs / "batches").iterdir()
            tables[kind] = pd.read_parquet(folder / "kpis.parquet")
        for kind in plan[name][1:]:
            pd.testing.assert_frame_equal(tables[kind], tables["inline"], check_exact=True)


@pytest.mark.slow
def test_cli_batch_interrupted_by_ctrl_c_resumes(tmp_path: Path) -> None:
    scenario = _write(tmp_path / "tiny.yaml", tiny_scenario_dict(horizon_days=365))
    runs = tmp_path / "runs"
    command = [sys.executable, "-c", "import sys; from tandem.cli import main; "
               "sys.argv[0] = 'tandem'; main()", "sweep", str(scenario),
               "--set", "nodes.wh.initial_inventory.widget=3,6,9", "-n", "8", "--chunk-size", "1",
               "--executor", "local", "--workers", "2", "--runs-dir", str(runs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        finished = list(runs.glob("batches/*/tasks/*.parquet"))
        if len(finished) >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, (out, err)
    assert "resume" in err
    (folder,) = (runs / "batches").iterdir()
    done_before = {p.name for p in (folder / "tasks").glob("*.parquet")}
    assert 3 <= len(done_before) < 24

    resumed = subprocess.run([*command, "--resume", folder.name], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(done_before)} reused" in resumed.stdout.replace("\n", " ")
    kpis = pd.read_parquet(folder / "kpis.parquet")
    assert len(kpis.drop_duplicates(["point", "replication", "metric", "scope"])) == len(kpis)
    assert kpis.groupby("point")["replication"].nunique().tolist() == [8, 8, 8]
    con = duckdb.connect(str(runs / "catalog.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT count(*) FROM batch_kpis").fetchone()[0]
        status = con.execute("SELECT status FROM batches").fetchone()[0]
    finally:
        con.close()
    assert rows == len(kpis) and status == "completed"
    # the same sweep in one go gives the same table
    fresh = run_batch_via_cli(command, tmp_path / "fresh", env)
    pd.testing.assert_frame_equal(kpis, fresh, check_exact=True)


def run_batch_via_cli(command: list[str], runs: Path, env: dict[str, str]) -> pd.DataFrame:
    """The same command, in one go, in one process."""
    inline = [*command[:command.index("--executor")], "--executor", "inline",
              "--runs-dir", str(runs)]
    done = subprocess.run(inline, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (folder,) = (runs / "batches").iterdir()
    return pd.read_parquet(folder / "kpis.parquet")


def test_executor_kinds() -> None:
    assert {k.value for k in ExecutorKind} == {"local", "dask", "inline"}


def test_unreachable_dask_scheduler_is_one_clear_error(monkeypatch) -> None:
    import tandem.executors as executors

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(executors.ExecutorError, match="cannot reach the Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:1")
