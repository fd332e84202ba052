"""Published measurements the shipped parameters must reproduce, each with its source.

Individual rows: within 25% (the model is fitted on aggregate, with shared parameters; the
calibration targets are medians). The whole calibration file: the issue's median targets.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
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


def test_calibration_file_meets_the_median_targets():
    # The project's copy of ../shared/data/measurements/calibration.csv (532 published rows).
    rows, skipped = read_measurements(DATA / "calibration.csv")
    report = validate(rows, skipped, load_params())
    assert report["rows_used"] == 532
    assert report["throughput"]["median_abs_pct_error"] <= 8.0      # issue #3 target
    assert report["ttft"]["median_abs_pct_error"] <= 10.0           # issue #3 target
    assert report["spearman_within_groups"] >= 0.95                 # issue #3 target
    assert report["throughput"]["p90_abs_pct_error"] <= 20.0        # issue #3 target (shipped: 19.97)


def test_extra_measurements_stay_within_their_shipped_accuracy():
    # cost_models/data/measurements_extra.csv: published rows of other devices, PP > 1, MoE, FP4 and
    # small-batch latency (sources per row). Only its latency rows (overheads) and FP4 rows (4-bit
    # efficiency) enter the fit; guard the shipped figures (docs/cost-model.md, section 5).
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
