"""Which hardware the shipped fit has seen, decided from the data, and the answers that say so (issue 8, 3.13)."""
from __future__ import annotations

import csv
import shutil

import pytest

from autotune import api
from autotune.outputs import report
from cost_models.params import (CALIBRATION_DATA_DIR, DEFAULT_PARAMS_PATH, calibration_for, fitted_hardware,
                                fitted_on)


def test_the_shipped_fit_has_seen_the_gpus_of_its_measurements_and_rngd_not_tpu():
    # cost_models/data/calibration.csv holds H100 SXM, A100 SXM 80GB and L40S rows (TensorRT-LLM perf overview);
    # RNGD has its own efficiency entries (cost_models.rngd_fit); nothing is fitted on a TPU.
    seen = fitted_hardware()
    assert {"h100-sxm", "a100-sxm-80g", "l40s", "rngd"} <= set(seen)
    assert list(seen) == sorted(seen)
    assert fitted_on("h100-sxm") and fitted_on("rngd") and not fitted_on("tpu-v5e")
    # default.yaml has rngd entries for memory figures (runtime_reserve_bytes.rngd): those are not a fit.
    from cost_models.params import load_params
    assert "rngd" in load_params().runtime_reserve_bytes


def _copy_data(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(CALIBRATION_DATA_DIR, data)
    return data


def test_tpu_measurements_in_the_data_make_the_tpu_fitted(tmp_path):
    data = _copy_data(tmp_path)
    with (data / "calibration.csv").open(newline="") as stream:
        reader = csv.DictReader(stream)
        header, first = reader.fieldnames, next(reader)
    with (data / "rngd.csv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=header)
        writer.writeheader()
        writer.writerow({**first, "row_id": "r1", "hardware_id": "tpu-v5e"})
    assert "tpu-v5e" not in fitted_hardware(DEFAULT_PARAMS_PATH, CALIBRATION_DATA_DIR)
    assert "tpu-v5e" in fitted_hardware(DEFAULT_PARAMS_PATH, data)


def test_a_per_hardware_efficiency_in_the_parameters_makes_that_hardware_fitted(tmp_path):
    import yaml
    document = yaml.safe_load(DEFAULT_PARAMS_PATH.read_text())
    from cost_models.params import EFFICIENCY_FIELDS
    for name in EFFICIENCY_FIELDS:  # the shared values only (no device's own efficiency)
        value = document["parameters"][name]["value"]
        if isinstance(value, dict):
            document["parameters"][name]["value"] = value["default"]
    shared = tmp_path / "shared.yaml"
    shared.write_text(yaml.safe_dump(document))
    document["parameters"]["bandwidth_efficiency"]["value"] = {"default": 0.89, "tpu-v5e": 0.7}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(document))
    empty = tmp_path / "no-data"
    empty.mkdir()
    assert fitted_hardware(params, empty) == ("tpu-v5e",)
    # A memory figure given per hardware (runtime_reserve_bytes.rngd) is not an efficiency.
    assert fitted_hardware(shared, empty) == ()
    # The shipped file gives RNGD its own efficiencies.
    assert fitted_hardware(DEFAULT_PARAMS_PATH, empty) == ("rngd",)


def test_calibration_json_and_note():
    tpu = calibration_for("tpu-v5e").to_dict()
    assert tpu["hardware_fitted"] is False
    assert tpu["fitted_on"] == list(fitted_hardware())
    assert tpu["note"].startswith("tpu-v5e efficiencies fitted on measurements of other hardware (")
    assert tpu["note"].endswith("no tpu-v5e fit yet")
    assert calibration_for("h100-sxm").to_dict()["hardware_fitted"] is True
    rngd = calibration_for("rngd").to_dict()
    assert rngd["hardware_fitted"] is True
    assert rngd["note"].startswith("rngd efficiencies fitted on measurements that include rngd")


@pytest.fixture(scope="module")
def tpu_answers():
    return (api.recommend("llama-3.2-1b", "tpu-v5e", cards=1), api.pareto("llama-3.2-1b", "tpu-v5e", cards=1),
            api.enumerate_candidates("llama-3.2-1b", "tpu-v5e", cards=1))


def test_every_answer_on_unfitted_hardware_says_its_efficiencies_were_fitted_on_other_hardware(tpu_answers):
    recommend, pareto, listing = tpu_answers
    for result, text in ((recommend, report.recommend_report(recommend)), (pareto, report.pareto_report(pareto)),
                         (listing, report.enumerate_report(listing))):
        assert result.to_dict()["assumptions"]["calibration"]["hardware_fitted"] is False
        flat = " ".join(text.split())
        assert "calibration: tpu-v5e efficiencies fitted on measurements of other hardware" in flat
        assert "no tpu-v5e fit yet" in flat


def test_an_rngd_answer_carries_its_own_fit_without_the_warning():
    result = api.recommend("llama-3.1-8b", "rngd", cards=1)
    assert result.to_dict()["assumptions"]["calibration"]["hardware_fitted"] is True
    assert "calibration:" not in report.recommend_report(result)


def test_a_fitted_gpus_answer_carries_the_key_without_the_warning():
    result = api.recommend("llama-3.1-8b", "h100-sxm", cards=1)
    assert result.to_dict()["assumptions"]["calibration"]["hardware_fitted"] is True
    assert "calibration:" not in report.recommend_report(result)


def test_an_infeasible_answer_on_unfitted_hardware_says_it_too():
    result = api.recommend("llama-3.1-70b", "tpu-v5e", cards=1, alternatives=False)
    assert not result.feasible
    assert "no tpu-v5e fit yet" in " ".join(report.recommend_report(result).split())
