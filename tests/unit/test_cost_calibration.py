"""The fit: fields no measurement depends on stay where they were, and are reported as held; the fit chain."""
from __future__ import annotations

from pathlib import Path

import pytest

from cost_models.calibration import CHAIN_PASSES, FIT_CHAIN, LATENCY_LOAD_TYPES, fit, fit_chain, fitted_sources
from cost_models.measurements import read_measurements
from cost_models.params import dump_params, load_params

DATA = Path(__file__).resolve().parents[2] / "cost_models" / "data"


def test_a_pcie_efficiency_is_held_when_every_row_runs_on_nvlink():
    rows, _ = read_measurements(DATA / "calibration.csv")
    nvlink = [r for r in rows if r.hardware_key == "h100-sxm" and r.tp > 1][:12]
    start = load_params()
    result = fit(nvlink, start, names=("comm_bandwidth_efficiency", "comm_bandwidth_efficiency_pcie"))
    assert result.held == ("comm_bandwidth_efficiency_pcie",)
    assert result.params.comm_bandwidth_efficiency_pcie == pytest.approx(start.comm_bandwidth_efficiency_pcie)
    sources = fitted_sources(result.params, ("comm_bandwidth_efficiency", "comm_bandwidth_efficiency_pcie"),
                             "test rows", result.held)
    assert "test rows" in sources["comm_bandwidth_efficiency"]
    assert sources["comm_bandwidth_efficiency_pcie"] == start.sources["comm_bandwidth_efficiency_pcie"]


def _chain_subset() -> dict[str, list]:
    calibration, _ = read_measurements("builtin:calibration")
    extra, _ = read_measurements("builtin:extra")
    return {"calibration": calibration[::12],
            "extra": [r for r in extra if r.load_type in LATENCY_LOAD_TYPES][::10]
            + [r for r in extra if r.dtype == "fp4"][::15]}


def test_fit_chain_equals_the_documented_commands(tmp_path):
    # docs/cost-model.md section 4: one `autotune calibrate` per step, each reading the file the
    # previous step wrote, twice over. The same steps through a file, in process, must give the
    # same parameters as fit_chain (which `calibrate --chain` and every cross-validation fold run).
    data = _chain_subset()
    start = load_params()
    params = start
    for _ in range(CHAIN_PASSES):
        for step in FIT_CHAIN:
            result = fit(step.rows(data), params, names=step.names)
            dump_params(result.params, tmp_path / "p.yaml")
            params = load_params(tmp_path / "p.yaml")
    chained = fit_chain(data, start).params
    for name in {n for step in FIT_CHAIN for n in step.names}:
        assert chained.value(name) == params.value(name), name
    assert chained.value("bandwidth_efficiency") != start.value("bandwidth_efficiency")


def test_the_shipped_parameters_were_made_by_fit_chain():
    # default.yaml's provenance nests each command under `previous`, newest first: the last
    # CHAIN_PASSES passes over the steps must be FIT_CHAIN, in order, with its filters.
    provenance = load_params().provenance
    commands = []
    for _ in range(CHAIN_PASSES * len(FIT_CHAIN)):
        commands.append(provenance)
        provenance = provenance.get("previous", {})
    steps = list(FIT_CHAIN) * CHAIN_PASSES
    for entry, step in zip(reversed(commands), steps):
        assert tuple(entry["fitted"]) == step.names
        command = entry["command"]
        assert ("calibration.csv" in command) == (step.data == "calibration")
        assert ("measurements_extra.csv" in command) == (step.data == "extra")
        assert (f"--dtype {step.dtype}" in command) == (step.dtype is not None)
        assert ("--load-type" in command) == (step.load_types is not None)
        if step.load_types is not None:
            assert f"--load-type {','.join(step.load_types)}" in command
