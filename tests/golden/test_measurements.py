"""Published measurements the shipped parameters must reproduce, each with its source.

Individual rows: within 25% (the model is fitted on aggregate, with shared parameters; the
calibration targets are medians). The whole calibration file: the issue's median targets.
In sample: the shipped parameters were fitted on every calibration.csv row and on 549 of the
786 extra rows (its latency and FP4 rows), so the whole-file figures are in-sample figures.
Out of sample: cross-validation refits the fit chain without each fold and predicts the fold
(docs/cost-model.md, section 5, "Out of sample").
"""
from __future__ import annotations

import os

from pathlib import Path

import numpy as np
import pytest

from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from cost_models.cross_validation import cross_validate
from cost_models.measurements import MeasuredRow, read_measurements
from cost_models.params import load_params
from cost_models.regimes import aligned, prepare
from cost_models.validation import validate

DATA = Path(__file__).resolve().parents[2] / "cost_models" / "data"
TRTLLM_014 = "NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md, v0.14.0 data table"
TRTLLM_09 = "NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md, v0.9.0 data"

# (model, hardware, dtype, tp, pp, input, output, batch, load_type, metric, measured, source)
ROWS = [
    ("llama-3.1-70b", "h100-sxm", "fp8", 4, 1, 1000, 1000, None, "offline_max_throughput", "throughput",
     6925.08, TRTLLM_014 + " (calibration row 9)"),
    ("llama-3.1-70b", "h100-sxm", "fp8", 4, 1, 128, 128, None, "offline_max_throughput", "throughput",
     8540.54, TRTLLM_014 + " (calibration row 28)"),
    ("llama-3.1-70b", "h100-sxm", "fp8", 8, 1, 1000, 1000, None, "offline_max_throughput", "throughput",
     10733.08, TRTLLM_014 + " (calibration row 15)"),
    ("mistral-7b-v0.1", "a100-sxm-80g", "fp16", 1, 1, 128, 128, None, "offline_max_throughput", "throughput",
     6914.22, TRTLLM_014 + " (calibration row 380)"),
    ("mixtral-8x7b-v0.1", "h100-sxm", "fp8", 8, 1, 500, 2000, None, "offline_max_throughput", "throughput",
     48842.81, TRTLLM_014 + " (calibration row 601)"),
    ("gpt-j-6b", "l40s", "fp8", 1, 1, 128, 2048, 64, "static_batch", "throughput",
     1904.0, TRTLLM_09 + " static batching, output tok/s per GPU (calibration row 664)"),
    ("gpt-j-6b", "h100-sxm", "fp8", 1, 1, 128, 1, 1, "batch1_first_token_latency", "ttft",
     5.5e-3, TRTLLM_09 + " 1st-token latency at batch 1 (calibration row 743)"),
    ("llama-2-70b", "a100-sxm-80g", "fp16", 8, 1, 2048, 1, 1, "batch1_first_token_latency", "ttft",
     249.2e-3, TRTLLM_09 + " 1st-token latency at batch 1 (calibration row 772)"),
]


def measured_row(spec) -> MeasuredRow:
    model, hardware, dtype, tp, pp, i, o, batch, load_type, metric, value, _ = spec
    return MeasuredRow(
        row_id=model, model_key=model, hardware_key=hardware, model=load_model(model),
        hardware=load_hardware(hardware), dtype=dtype, kv_dtype=dtype, tp=tp, pp=pp, dp=1, input_len=i,
        output_len=o, load_type=load_type, batch=batch, engine_max_batch=None,
        throughput_tokens_per_s=value if metric == "throughput" else None,
        ttft_s=value if metric == "ttft" else None, tpot_s=None, e2e_latency_s=None)


@pytest.mark.parametrize("spec", ROWS, ids=[f"{r[0]}-{r[1]}-{r[2]}-tp{r[3]}-{r[5]}x{r[6]}-{r[9]}" for r in ROWS])
def test_published_row_within_25_percent(spec):
    params = load_params()
    prepared = prepare([measured_row(spec)], params)
    predicted, measured = aligned(prepared, params)[spec[9]]
    assert np.isfinite(predicted[0])
    assert abs(predicted[0] / measured[0] - 1.0) <= 0.25, f"predicted {predicted[0]:.4g} vs {measured[0]:.4g}"


def test_in_sample_calibration_file_meets_the_median_targets():
    # In sample: the shipped efficiencies were fitted on these 532 rows.
    # The project's copy of ../shared/data/measurements/calibration.csv (532 published rows).
    rows, skipped = read_measurements(DATA / "calibration.csv")
    report = validate(rows, skipped, load_params())
    assert report["rows_used"] == 532
    assert report["throughput"]["median_abs_pct_error"] <= 8.0      # issue #3 target
    assert report["ttft"]["median_abs_pct_error"] <= 10.0           # issue #3 target
    assert report["spearman_within_groups"] >= 0.95                 # issue #3 target
    assert report["throughput"]["p90_abs_pct_error"] <= 20.0        # issue #3 target (shipped: 19.97)


def test_in_sample_extra_measurements_stay_within_their_shipped_accuracy():
    # cost_models/data/measurements_extra.csv: published rows of other devices, PP > 1, MoE, FP4 and
    # small-batch latency (sources per row). Its latency rows (overheads) and FP4 rows (4-bit
    # efficiency), 549 of 786 and every TPOT row, enter the fit: partly in sample. Guard the shipped
    # figures (docs/cost-model.md, section 5).
    # Every row is used since the qwen3-235b-a22b preset exists; its 44 rows ran with attention data
    # parallelism and expert parallelism, a layout the model does not distinguish (docs, known gaps).
    rows, skipped = read_measurements(DATA / "measurements_extra.csv")
    report = validate(rows, skipped, load_params())
    assert report["rows_used"] == 786 and report["rows_skipped"] == 0
    assert report["throughput"]["median_abs_pct_error"] <= 13.0     # issue #3 aim: 10 (shipped: 11.9)
    assert report["throughput"]["p90_abs_pct_error"] <= 34.5        # issue #3 aim: 30 (shipped: 33.8)
    without = [r for r in rows if r.model_key != "Qwen/Qwen3-235B-A22B"]
    assert validate(without, [], load_params())["throughput"]["p90_abs_pct_error"] <= 33.0  # shipped: 31.6
    assert report["tpot"]["median_abs_pct_error"] <= 15.0           # issue #3 aim
    assert report["spearman_within_groups"] >= 0.9                  # issue #3 aim


@pytest.fixture(scope="module")
def both_files() -> dict[str, list[MeasuredRow]]:
    return {"calibration": read_measurements(DATA / "calibration.csv")[0],
            "extra": read_measurements(DATA / "measurements_extra.csv")[0]}


def _pooled(report: dict, metric: str) -> tuple[int, float, float]:
    entry = report["pooled"][metric]
    return entry["n"], entry["median_abs_pct_error"], entry["p90_abs_pct_error"]


#: The cross-validations over both files refit the chain per fold, and the chain's overhead step
#: simulates the extra file's closed-loop rows (cost_models/serving): minutes per run, too slow for
#: every CI run. `AUTOTUNE_SLOW_TESTS=1 python -m pytest tests/golden` runs them.
slow = pytest.mark.skipif(os.environ.get("AUTOTUNE_SLOW_TESTS") != "1",
                          reason="minutes: set AUTOTUNE_SLOW_TESTS=1 (figures in docs/cost-model.md)")


def test_out_of_sample_kfold_over_calibration_csv():
    """Out of sample on calibration.csv alone, 5 group folds, seed 0 (median / p90 abs % error):
    throughput 6.59 / 20.47, TTFT 10.48 / 18.82, Spearman 1.00. Bounds: +0.5 median, +1.0 p90.

        autotune validate --measurements builtin:calibration --cross-validate kfold
    """
    rows = {"calibration": read_measurements(DATA / "calibration.csv")[0]}
    report = cross_validate(rows, load_params(), mode="kfold", folds=5, seed=0)
    assert [f["rows_held_out"] for f in report["folds"]] == [104, 105, 104, 111, 108]
    n, median, p90 = _pooled(report, "throughput")
    assert n == 484 and median <= 7.1 and p90 <= 21.5
    n, median, p90 = _pooled(report, "ttft")
    assert n == 48 and median <= 11.0 and p90 <= 19.9


def test_out_of_sample_leave_one_hardware_out_over_calibration_csv():
    """Each device of calibration.csv predicted from the others (median / p90 abs % error): pooled
    throughput 8.33 / 23.16, TTFT 12.74 / 22.91; A100 7.35 / 18.55, H100 10.39 / 32.31, L40S 4.63 /
    14.37 (L40S keeps the PCIe efficiency's start value: no other row crosses PCIe).

        autotune validate --measurements builtin:calibration --cross-validate hardware
    """
    rows = {"calibration": read_measurements(DATA / "calibration.csv")[0]}
    report = cross_validate(rows, load_params(), mode="hardware")
    n, median, p90 = _pooled(report, "throughput")
    assert n == 484 and median <= 8.9 and p90 <= 24.2
    folds = {f["name"]: f["throughput"] for f in report["folds"]}
    assert folds["h100-sxm"]["median_abs_pct_error"] <= 10.9 and folds["a100-sxm-80g"]["p90_abs_pct_error"] <= 19.6


@slow
def test_out_of_sample_kfold_over_both_files(both_files):
    """Out of sample, 5 group folds. Measured with the shipped parameters, closed-loop rows simulated,
    genai-perf rows counted in its windows (median / p90 abs % error): pooled throughput 9.35 / 30.42,
    TTFT 13.17 / 33.86, TPOT 8.60 / 22.48; calibration.csv rows 6.60 / 19.84, extra rows 12.30 / 33.70;
    serving rows throughput 10.61 / 29.03, TTFT 16.88 / 52.89, TPOT 10.36 / 24.03; Spearman 0.951.
    Bounds: +0.5 median, +1.0 p90. Reproduce with:

        autotune validate --measurements builtin:calibration --measurements builtin:extra \
            --cross-validate kfold --folds 5 --seed 0
    """
    report = cross_validate(both_files, load_params(), mode="kfold", folds=5, seed=0)
    assert [f["rows_held_out"] for f in report["folds"]] == [262, 265, 267, 262, 262]
    n, median, p90 = _pooled(report, "throughput")
    assert n == 1248 and median <= 9.9 and p90 <= 31.5
    n, median, p90 = _pooled(report, "ttft")
    assert n == 292 and median <= 13.7 and p90 <= 34.9
    n, median, p90 = _pooled(report, "tpot")
    assert n == 328 and median <= 9.1 and p90 <= 23.4
    serving = report["pooled"]["by_load_type"]["online_fixed_concurrency"]
    assert serving["ttft"]["median_abs_pct_error"] <= 17.4 and serving["ttft"]["p90_abs_pct_error"] <= 53.9
    calibration = report["pooled"]["by_data"]["calibration"]["throughput"]
    assert calibration["median_abs_pct_error"] <= 7.2 and calibration["p90_abs_pct_error"] <= 20.9
    extra = report["pooled"]["by_data"]["extra"]["throughput"]
    assert extra["median_abs_pct_error"] <= 12.9 and extra["p90_abs_pct_error"] <= 34.8
    assert report["pooled"]["spearman_within_groups"] >= 0.94


@slow
def test_out_of_sample_leave_one_hardware_out_over_both_files(both_files):
    """Out of sample, each device predicted from the others, closed-loop rows simulated. Measured with
    the shipped parameters (median / p90 abs % error): pooled throughput 11.05 / 32.42, TTFT 15.71 /
    59.01, TPOT 8.90 / 23.35; H100 10.98 / 30.29, A100 7.17 / 19.59, B200 20.04 / 58.13. Bounds: +0.5
    median, +1.0 p90. L40S keeps the start value of comm_bandwidth_efficiency_pcie (no other
    calibration row crosses PCIe), so its fold reports that field as held. Reproduce with:

        autotune validate --measurements builtin:calibration --measurements builtin:extra \
            --cross-validate hardware
    """
    report = cross_validate(both_files, load_params(), mode="hardware")
    folds = {f["name"]: f for f in report["folds"]}
    assert sorted(folds) == ["a100-sxm-80g", "b200", "gaudi2", "gaudi3", "h100-sxm", "h200-sxm", "l40s",
                             "mi300x", "rtx-pro-6000"]
    n, median, p90 = _pooled(report, "throughput")
    assert n == 1248 and median <= 11.6 and p90 <= 33.5
    n, median, p90 = _pooled(report, "ttft")
    assert n == 292 and median <= 16.3 and p90 <= 60.1
    n, median, p90 = _pooled(report, "tpot")
    assert n == 328 and median <= 9.4 and p90 <= 24.4
    for name, median_bound, p90_bound in (("h100-sxm", 11.5, 31.3), ("a100-sxm-80g", 7.7, 20.6),
                                          ("b200", 20.6, 59.2)):
        entry = folds[name]["throughput"]
        assert entry["median_abs_pct_error"] <= median_bound and entry["p90_abs_pct_error"] <= p90_bound, name
    assert folds["l40s"]["held_fields"] == ["comm_bandwidth_efficiency_pcie"]
    assert all(not f["held_fields"] for n, f in folds.items() if n != "l40s")
