"""`sweep` and `plan` with --jobs and --ray through the real entry point: stdout is the serial run's, byte for byte."""
from __future__ import annotations

import importlib.util

import pytest

from tests.cli.solver_cli import autotune

PLAN = ("plan", "--model", "llama-3.2-1b", "--hardware", "rngd", "--input-len", "512", "--output-len", "64",
        "--ttft-ms", "500", "--tpot-ms", "30", "--requests", "200", "--rate", "40")
SWEEP = ("sweep", "--model", "llama-3.2-1b", "--cards", "1..4", "--dtypes", "bf16,fp8")


def test_plan_in_two_processes_prints_the_serial_plan():
    serial = autotune(*PLAN, "--json")
    parallel = autotune(*PLAN, "--json", "--jobs", "2")
    assert serial.code == parallel.code == 0, serial.stderr + parallel.stderr
    assert parallel.stdout == serial.stdout
    assert parallel.stderr == ""
    assert len(serial.json()["layouts"]) >= 2  # something to fan out


def test_sweep_in_two_processes_prints_the_serial_sweep():
    serial = autotune(*SWEEP, "--json")
    parallel = autotune(*SWEEP, "--json", "--jobs", "2")
    assert serial.code == parallel.code == 0, serial.stderr + parallel.stderr
    assert parallel.stdout == serial.stdout
    assert len(serial.json()["points"]) == 8


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason='Ray not installed (pip install ".[ray]")')
def test_plan_on_a_local_ray_prints_the_serial_plan_and_no_ray_logs():
    serial = autotune(*PLAN, "--json")
    on_ray = autotune(*PLAN, "--json", "--ray", "--jobs", "2", timeout=300)
    assert on_ray.code == 0, on_ray.stderr
    assert on_ray.stdout == serial.stdout


@pytest.mark.parametrize("flags, expected", [
    (("--jobs", "0"), "autotune plan: error: --jobs: got '0'; expected an integer in [1, 256]\n"),
    (("--ray", "no-port"), "autotune plan: error: --ray: got 'no-port'; expected 'local', 'auto' or a Ray "
                           "cluster's address (host:port or ray://host:port)\n"),
])
def test_bad_fan_out_flags_are_one_line_and_exit_2(flags, expected):
    run = autotune(*PLAN, *flags)
    assert (run.code, run.stdout, run.stderr) == (2, "", expected)
