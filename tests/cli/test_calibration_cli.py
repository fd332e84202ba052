"""Every answer of the solver commands on hardware without a fit of its own says that its efficiencies were fitted on
other hardware (issue 8, 3.13); RNGD has its own (cost_models.rngd_fit)."""
from __future__ import annotations

import pytest

from tests.cli.solver_cli import autotune

COMMANDS = (("recommend",), ("pareto",), ("enumerate", "--limit", "3"), ("sweep",))


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_unfitted_json_and_text_carry_the_calibration(command):
    args = (*command, "--model", "llama-3.2-1b", "--hardware", "tpu-v5e", "--devices", "1")
    doc = autotune(*args, "--json")
    assert doc.code == 0, doc.stderr
    calibration = doc.json()["assumptions"]["calibration"]
    assert calibration["hardware_fitted"] is False
    assert "h100-sxm" in calibration["fitted_on"] and "tpu-v5e" not in calibration["fitted_on"]
    assert calibration["note"].endswith("no tpu-v5e fit yet")
    text = autotune(*args)
    assert text.code == 0, text.stderr
    assert "calibration: tpu-v5e efficiencies fitted on measurements of other hardware" in " ".join(text.stdout.split())


@pytest.mark.parametrize("command", COMMANDS[:1], ids=lambda c: c[0])
def test_rngd_carries_its_own_fit(command):
    args = (*command, "--model", "llama-3.1-8b", "--cards", "1")
    doc = autotune(*args, "--json")
    assert doc.code == 0, doc.stderr
    assert doc.json()["assumptions"]["calibration"]["hardware_fitted"] is True
    assert "calibration:" not in autotune(*args).stdout


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_fitted_gpu_keeps_the_key_and_prints_no_warning(command):
    args = (*command, "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--devices", "1")
    doc = autotune(*args, "--json")
    assert doc.code == 0, doc.stderr
    assert doc.json()["assumptions"]["calibration"]["hardware_fitted"] is True
    assert "calibration:" not in autotune(*args).stdout
