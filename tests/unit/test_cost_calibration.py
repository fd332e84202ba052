"""The fit: fields no measurement depends on stay where they were, and are reported as held."""
from __future__ import annotations

from pathlib import Path

import pytest

from cost_models.calibration import fit, fitted_sources
from cost_models.measurements import read_measurements
from cost_models.params import load_params

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
