"""Cross-validation on a few dozen shipped rows: folds never fit on what they predict, and are reproducible."""
from __future__ import annotations

import pytest

import cost_models.cross_validation as cv
from cost_models.calibration import FIT_CHAIN
from cost_models.cross_validation import cross_validate, fold_group_key, hardware_folds, kfold_folds
from cost_models.measurements import read_measurements
from cost_models.params import load_params
from cost_models.validation import METRICS


def _subset() -> dict[str, list]:
    """Returns 30 calibration rows and 30 extra rows (throughput, latency and FP4 rows), three devices each."""
    calibration, _ = read_measurements("builtin:calibration")
    extra, _ = read_measurements("builtin:extra")
    picked_calibration = [r for r in calibration if r.hardware_key in ("h100-sxm", "a100-sxm-80g", "l40s")][::17][:30]
    latency = [r for r in extra if r.load_type == "static_batch_e2e_latency"][::9][:12]
    fp4 = [r for r in extra if r.dtype == "fp4"][::20][:9]
    offline = [r for r in extra if r.load_type == "offline_max_throughput" and r.dtype != "fp4"][::30][:9]
    return {"calibration": picked_calibration, "extra": latency + fp4 + offline}


DATA = _subset()
ROWS = [r for rows in DATA.values() for r in rows]
#: One pass of the chain keeps these tests fast; what they check does not depend on the passes.
PASSES = 1


@pytest.fixture(scope="module")
def kfold_report() -> dict:
    return cross_validate(DATA, load_params(), mode="kfold", folds=3, seed=7, passes=PASSES)


def _run(monkeypatch, **kwargs) -> tuple[dict, list[dict]]:
    """Returns the report and, per fold, the rows each step of the chain was given to fit on."""
    seen: list[dict] = []
    real = cv.fit_chain

    def recording(data, start, **kw):
        seen.append({name: list(rows) for name, rows in data.items()})
        return real(data, start, **kw)

    monkeypatch.setattr(cv, "fit_chain", recording)
    return cross_validate(DATA, load_params(), **kwargs), seen


def test_the_subset_exercises_every_step_of_the_chain():
    assert 50 <= len(ROWS) <= 60
    assert all(step.rows(DATA) for step in FIT_CHAIN)


@pytest.mark.parametrize("mode", ["kfold", "hardware"])
def test_no_held_out_row_is_in_its_folds_fit_set(monkeypatch, mode):
    report, seen = _run(monkeypatch, mode=mode, folds=3, seed=0, passes=PASSES)
    plan = kfold_folds(ROWS, folds=3, seed=0) if mode == "kfold" else hardware_folds(ROWS)
    assert len(seen) == len(plan) == len(report["folds"])
    held_count = {}
    for fold, fit_data in zip(plan, seen):
        held = {id(ROWS[i]) for i in fold.held_out}
        fitted = {id(r) for rows in fit_data.values() for r in rows}
        assert not held & fitted
        assert len(held) + len(fitted) == len(ROWS)          # every other row is offered to the fit
        for i in fold.held_out:
            held_count[i] = held_count.get(i, 0) + 1
    assert held_count == {i: 1 for i in range(len(ROWS))}    # each row predicted exactly once


def test_kfold_keeps_each_group_in_one_fold():
    plan = kfold_folds(ROWS, folds=3, seed=0)
    fold_of_group: dict[tuple, set[int]] = {}
    for number, fold in enumerate(plan):
        for i in fold.held_out:
            fold_of_group.setdefault(fold_group_key(ROWS[i]), set()).add(number)
    assert all(len(folds) == 1 for folds in fold_of_group.values())
    sizes = [len(f.held_out) for f in plan]
    assert max(sizes) - min(sizes) <= max(len([r for r in ROWS if fold_group_key(r) == k]) for k in fold_of_group)


def test_leave_one_hardware_out_holds_out_one_device_per_fold():
    plan = hardware_folds(ROWS)
    assert [f.name for f in plan] == sorted({r.hardware_key for r in ROWS})
    for fold in plan:
        assert {ROWS[i].hardware_key for i in fold.held_out} == {fold.name}


def test_results_are_deterministic_for_a_seed(kfold_report):
    again = cross_validate(DATA, load_params(), mode="kfold", folds=3, seed=7, passes=PASSES)
    assert again == kfold_report
    other = [list(f.held_out) for f in kfold_folds(ROWS, folds=3, seed=8)]
    assert other != [list(f.held_out) for f in kfold_folds(ROWS, folds=3, seed=7)]


def test_pooled_n_is_the_number_of_rows_with_that_metric(kfold_report):
    report = kfold_report
    measured = {"throughput": sum(r.throughput_tokens_per_s is not None for r in ROWS),
                "ttft": sum(r.ttft_s is not None for r in ROWS),
                "tpot": sum(r.tpot_s is not None or (r.load_type == "static_batch_e2e_latency"
                                                     and r.e2e_latency_s is not None) for r in ROWS)}
    for metric in METRICS:
        assert report["pooled"][metric]["n"] == measured[metric] > 0
        assert sum(f[metric]["n"] for f in report["folds"]) == measured[metric]
    assert set(report) >= {"mode", "folds", "pooled"}
    assert [f["rows_held_out"] for f in report["folds"]] == [len(f.held_out) for f in
                                                              kfold_folds(ROWS, folds=3, seed=0)]


def test_a_fold_refits_and_does_not_reuse_the_start_parameters(kfold_report):
    start = load_params()
    moved = [f for f in kfold_report["folds"]
             if abs(f["fitted"]["bandwidth_efficiency"] - start.bandwidth_efficiency) > 1e-4]
    assert moved, "no fold moved bandwidth_efficiency: the chain did not refit"


def test_splits_that_cannot_be_made_are_refused():
    with pytest.raises(ValueError, match="groups"):
        cross_validate(DATA, load_params(), mode="kfold", folds=len(ROWS) + 1)
    one_device = {"calibration": [r for r in DATA["calibration"] if r.hardware_key == "l40s"]}
    with pytest.raises(ValueError, match="at least 2 devices"):
        cross_validate(one_device, load_params(), mode="hardware")
