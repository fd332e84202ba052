"""`fan_out`: the serial answer from processes and from a local Ray (started here), worker errors re-raised as
raised, and one line naming --ray when Ray is not installed."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pytest

from autotune import api
from autotune.cli import main
from autotune.errors import InfeasibleError, InputError
from autotune.solver import fanout, planning
from autotune.solver.fanout import fan_out
from autotune.specs.workload import Workload

ROOT = Path(__file__).resolve().parents[2]
HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason='Ray not installed (pip install ".[ray]")')

#: A small plan: Llama-3.2-1B on RNGD has several one-replica layouts, each bisected (a few seconds in all).
SMALL_PLAN = dict(model="llama-3.2-1b", hardware="rngd",
                  workload=Workload(input_len=512, output_len=64, ttft_ms=500, tpot_ms=30), rate=40.0, requests=200)


# Top-level, so that worker processes and Ray tasks can import them.

def square_late_first(n: int) -> int:
    """Returns n squared; earlier tasks take longer, so the workers finish them out of order."""
    time.sleep(0.05 * (5 - n % 5))
    return n * n


def fail_at(n: int) -> int:
    """Returns n, or raises InputError at 1 (slowly) and InfeasibleError at 3 and 4 (at once)."""
    if n == 1:
        time.sleep(0.5)
        raise InputError(source="task.yaml", field="n", value=n, expected="not 1")
    if n in (3, 4):
        raise InfeasibleError(f"{n} does not fit", reasons=(f"reason {n}",))
    return n


def infeasible_at_2(n: int) -> int:
    """Returns n, or raises InfeasibleError at 2."""
    if n == 2:
        raise InfeasibleError("2 does not fit", reasons=("memory", "buckets"))
    return n


def test_processes_return_the_serial_results_in_task_order():
    tasks = list(range(10))
    serial = fan_out(square_late_first, tasks)
    assert serial == [n * n for n in tasks]
    assert fan_out(square_late_first, tasks, jobs=2) == serial


def test_progress_counts_every_task_in_the_callers_process():
    seen = []
    fan_out(square_late_first, list(range(6)), jobs=2, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(k, 6) for k in range(1, 7)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_first_failing_task_in_task_order_raises_as_it_was_raised(jobs):
    # Tasks 3 and 4 fail first in time; the serial loop meets task 1 first, and so must every run.
    with pytest.raises(InputError) as caught:
        fan_out(fail_at, list(range(6)), jobs=jobs)
    error = caught.value
    assert type(error) is InputError
    assert str(error) == "task.yaml: field 'n': got 1; expected not 1"
    assert (error.source, error.field, error.value, error.expected) == ("task.yaml", "n", 1, "not 1")


@pytest.mark.parametrize("jobs", [1, 2])
def test_infeasible_errors_keep_their_reasons(jobs):
    with pytest.raises(InfeasibleError) as caught:
        fan_out(infeasible_at_2, [0, 1, 2, 3], jobs=jobs)
    assert str(caught.value) == "2 does not fit" and caught.value.reasons == ("memory", "buckets")
    assert caught.value.exit_code == 1


@pytest.mark.parametrize("jobs, ray_address, expected", [
    (0, None, "--jobs: got 0; expected an integer in [1, 256]"),
    (True, None, "--jobs: got True"),
    (1, "no-port", "--ray: got 'no-port'; expected 'local', 'auto' or a Ray cluster's address"),
    (1, "host:99999", "--ray: got 'host:99999'"),
])
def test_bad_jobs_or_address_is_an_input_error(jobs, ray_address, expected):
    with pytest.raises(InputError, match="^" + expected.replace("[", r"\[").replace("]", r"\]")):
        fan_out(square_late_first, [1, 2], jobs=jobs, ray_address=ray_address)


def test_without_ray_installed_ray_is_one_input_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(InputError) as caught:
        fan_out(square_late_first, [1, 2], ray_address="local")
    assert caught.value.source == "--ray"
    assert str(caught.value) == '--ray; expected ' + fanout.RAY_INSTALL


def test_the_install_hint_names_the_extra_and_rays_lowest_version():
    text = (ROOT / "pyproject.toml").read_text()
    assert '\nray = ["ray>=2.9"]' in text
    assert 'pip install ".[ray]"' in fanout.RAY_INSTALL and '"ray>=2.9"' in fanout.RAY_INSTALL


@pytest.mark.parametrize("command", [
    ["sweep", "--model", "llama-3.2-1b", "--cards", "1,2", "--json", "--ray"],
    ["plan", "--model", "llama-3.2-1b", "--rate", "1", "--ray", "--json"],
])
def test_the_cli_without_ray_says_so_in_one_line_and_exits_2(monkeypatch, capsys, command):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"autotune {command[0]}: error: --ray; expected {fanout.RAY_INSTALL}\n"


def test_an_unreachable_cluster_is_one_input_error_at_once():
    pytest.importorskip("ray")
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"^--ray: got '127\.0\.0\.1:1'; expected a Ray cluster listening there"):
        fan_out(square_late_first, [1, 2], ray_address="127.0.0.1:1")
    assert time.perf_counter() - start < fanout.CONNECT_TIMEOUT_S + 5


def test_a_plan_in_processes_is_the_serial_plan():
    serial = planning.plan(**SMALL_PLAN)
    parallel = planning.plan(**SMALL_PLAN, jobs=2)
    assert len(serial.layouts) >= 2  # something to fan out
    assert json.dumps(serial.to_dict()) == json.dumps(parallel.to_dict())


# --- a local Ray, started here --------------------------------------------------------------------------------

RAY_OPTIONS = dict(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")


@pytest.fixture(scope="module")
def ray_module():
    """Ray, with a local Ray's workers able to import this module; the Ray is shut down after the module."""
    ray = pytest.importorskip("ray")
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), saved) if p)
    try:
        yield ray
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@pytest.fixture
def local_ray(ray_module):
    """A local Ray with 2 CPUs, started once for the module's tests (again after a test that shut it down)."""
    if not ray_module.is_initialized():
        ray_module.init(**RAY_OPTIONS)
    return ray_module


@needs_ray
def test_ray_returns_the_serial_results_in_task_order(local_ray):
    tasks = list(range(10))
    seen = []
    assert fan_out(square_late_first, tasks, ray_address="local",
                   progress=lambda done, total: seen.append(done)) == [n * n for n in tasks]
    assert seen == list(range(1, 11))
    assert local_ray.is_initialized()  # the caller's Ray is left running


@needs_ray
def test_ray_raises_the_first_failing_tasks_error_as_raised(local_ray):
    with pytest.raises(InputError) as caught:
        fan_out(fail_at, list(range(6)), ray_address="local")
    assert type(caught.value) is InputError and str(caught.value) == "task.yaml: field 'n': got 1; expected not 1"
    with pytest.raises(InfeasibleError) as caught:
        fan_out(infeasible_at_2, [0, 1, 2, 3], ray_address="local")
    assert caught.value.reasons == ("memory", "buckets")


@needs_ray
def test_a_sweep_and_a_plan_on_ray_are_the_serial_ones(local_ray):
    serial = api.sweep("llama-3.2-1b", "rngd", cards="1..3")
    assert api.sweep("llama-3.2-1b", "rngd", cards="1..3", ray_address="local").to_dict() == serial.to_dict()
    plan_serial = planning.plan(**SMALL_PLAN)
    plan_ray = planning.plan(**SMALL_PLAN, ray_address="local")
    assert json.dumps(plan_serial.to_dict()) == json.dumps(plan_ray.to_dict())


@needs_ray
def test_a_ray_started_by_fan_out_is_shut_down_after(ray_module):
    ray_module.shutdown()  # fan_out starts its own, with --jobs CPUs
    assert fan_out(square_late_first, [0, 1, 2, 3], jobs=2, ray_address="local") == [0, 1, 4, 9]
    assert not ray_module.is_initialized()


def test_sweep_task_errors_come_back_from_workers_as_input_errors():
    """A point the space does not serve raises the serial InputError (what `api.sweep` checks first)."""
    from autotune.solver.sweeps import solve_sweep_point, sweep_tasks

    model, hardware = api.load_model("llama-3.2-1b"), api.load_hardware("rngd")
    space = api.load_space(hardware.default_space)
    tasks = sweep_tasks([model], hardware, space, Workload(dtype="bf16"), cards=[1, 2], dtypes=None,
                        input_lens=None, objective="throughput", time_limit_s=None, params=None)
    tasks[1] = dataclasses.replace(tasks[1], workload=dataclasses.replace(tasks[1].workload, dtype="fp4"))
    with pytest.raises(InputError) as serial:
        fan_out(solve_sweep_point, tasks)
    with pytest.raises(InputError) as parallel:
        fan_out(solve_sweep_point, tasks, jobs=2)
    assert str(parallel.value) == str(serial.value)
    assert str(serial.value).startswith("--dtype: got 'fp4'; expected a format")
