"""`calibrate --hardware`: a device's own parameters are fitted, the shared values and other devices stay."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from cost_models.calibration import fit, hardware_fitted_sources
from cost_models.measurements import read_measurements
from cost_models.params import CostParams, dump_params, load_params
from cost_models.regimes import predict, prepare

DATA = Path(__file__).resolve().parents[2] / "cost_models" / "data"
NAMES = ("bandwidth_efficiency", "compute_efficiency_16bit", "comm_bandwidth_efficiency_pcie")


def shared_values(params: CostParams) -> dict:
    return {f.name: getattr(params, f.name) for f in fields(CostParams)
            if f.name not in ("sources", "provenance", "hardware_values")}


@pytest.fixture(scope="module")
def h100_fit():
    rows, _ = read_measurements(DATA / "calibration.csv")
    h100 = [r for r in rows if r.hardware_key == "h100-sxm" and r.tp == 1][:10]
    return rows, fit(h100, load_params(), names=NAMES, hardware="h100-sxm")


def test_the_device_gets_its_own_values_and_the_shared_ones_stay(h100_fit):
    _, result = h100_fit
    start = load_params()
    assert shared_values(result.params) == shared_values(start)
    own = result.params.hardware_values["h100-sxm"]
    assert own["bandwidth_efficiency"] != start.bandwidth_efficiency
    # Every row is TP 1: no row depends on the PCIe link, so that field is held and gets no entry.
    assert "comm_bandwidth_efficiency_pcie" in result.held and "comm_bandwidth_efficiency_pcie" not in own
    assert result.params.hardware_values["rngd"] == start.hardware_values["rngd"]


def test_other_devices_are_priced_as_before(h100_fit):
    rows, result = h100_fit
    a100 = [r for r in rows if r.hardware_key.startswith("a100")][:6]
    h100 = [r for r in rows if r.hardware_key == "h100-sxm"][:6]
    before, after = predict(prepare(a100, load_params()), load_params()), predict(prepare(a100, result.params),
                                                                                 result.params)
    assert np.array_equal(before["throughput"], after["throughput"], equal_nan=True)
    moved = predict(prepare(h100, result.params), result.params)["throughput"]
    assert not np.allclose(moved, predict(prepare(h100, load_params()), load_params())["throughput"])


def test_the_file_round_trips(tmp_path, h100_fit):
    _, result = h100_fit
    path = tmp_path / "p.yaml"
    dump_params(result.params, path)
    loaded = load_params(path)
    assert loaded.hardware_values["h100-sxm"]["bandwidth_efficiency"] == pytest.approx(
        result.params.hardware_values["h100-sxm"]["bandwidth_efficiency"], rel=1e-5)
    assert shared_values(loaded) == shared_values(load_params())


def test_sources_keep_the_shared_part_and_replace_the_devices():
    start = load_params()
    text = start.sources["bandwidth_efficiency"]
    assert "; rngd: " in text
    sources = hardware_fitted_sources(start, ("bandwidth_efficiency",), "rngd", "my.csv")
    assert sources["bandwidth_efficiency"].startswith(text.split("; rngd: ")[0] + "; rngd: fitted by autotune "
                                                                                  "calibrate --hardware rngd on my.csv")
    assert sources["bandwidth_efficiency"].count("; rngd: ") == 1


def test_mapping_entries_have_no_per_hardware_fit():
    with pytest.raises(ValueError, match="whole fields"):
        fit([], load_params(), names=("runtime_reserve_bytes.default",), hardware="h100-sxm")


def test_a_users_file_with_a_devices_own_values_counts_as_that_devices_fit(tmp_path):
    from dataclasses import replace

    from cost_models.params import calibration_for

    start = load_params()
    assert not calibration_for("tpu-v5e").hardware_fitted
    path = tmp_path / "tpu.yaml"
    dump_params(replace(start, hardware_values={**start.hardware_values, "tpu-v5e": {"bandwidth_efficiency": 0.7}}),
                path)
    assert calibration_for("tpu-v5e", path).hardware_fitted
