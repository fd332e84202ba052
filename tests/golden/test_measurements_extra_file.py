"""Schema checks for cost_models/data/measurements_extra.csv (published measurements beyond calibration.csv).

The file is data the cost model is fitted and validated on, so every row must be usable as is:
the calibration file's columns (plus the optional `attention_data_parallel` the reader takes), a
source on every row, numbers that parse, and normalized ids.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest

from tests.shared_data import TEST_DATA

EXTRA_CSV = Path(__file__).resolve().parents[2] / "cost_models" / "data" / "measurements_extra.csv"
# The repository's byte-identical copy of ../shared/data/measurements/calibration.csv.
CALIBRATION_CSV = EXTRA_CSV.with_name("calibration.csv")

# Same columns, same order, as ../shared/data/measurements/calibration.csv.
COLUMNS = (
    "row_id", "model_id", "hardware_id", "dtype", "hardware", "num_devices", "model", "precision",
    "tensor_parallel", "pipeline_parallel", "data_parallel", "expert_parallel", "input_len", "output_len",
    "batch_or_concurrency", "load_type", "throughput_output_tok_s_total", "throughput_output_tok_s_per_device",
    "ttft_ms", "tpot_or_itl_ms", "e2e_latency_s", "framework", "source", "note",
)
LOAD_TYPES = {
    "offline_max_throughput", "static_batch", "online_fixed_concurrency", "batch1_first_token_latency",
    "static_batch_e2e_latency",
}
FIXED_BATCH_LOAD_TYPES = {"static_batch", "online_fixed_concurrency", "static_batch_e2e_latency"}
DTYPES = {"bf16", "fp16", "fp8", "int8", "int4", "fp4"}
HARDWARE_IDS = {
    "rngd", "h100-sxm", "h100-pcie", "h200-sxm", "a100-sxm-40g", "a100-sxm-80g", "a100-pcie-40g", "a100-pcie-80g",
    "l40s", "b200", "mi300x", "gaudi2", "gaudi3", "tpu-v5e", "rtx-pro-6000",
}
# Models whose config.json is public but not among ../shared/data/model_configs (MEASUREMENTS.md says why).
EXTRA_MODEL_IDS = {"tiiuae/falcon-180B", "Qwen/Qwen3-235B-A22B"}
# Hugging Face ids of the configs in ../shared/data/model_configs (file name = the id's name part).
KNOWN_ORGS = {"meta-llama", "mistralai", "Qwen", "deepseek-ai", "google", "EleutherAI", "tiiuae"}
INT_COLUMNS = ("num_devices", "tensor_parallel", "pipeline_parallel", "data_parallel", "input_len", "output_len")
METRIC_COLUMNS = (
    "throughput_output_tok_s_total", "throughput_output_tok_s_per_device", "ttft_ms", "tpot_or_itl_ms",
    "e2e_latency_s",
)


def _rows() -> list[dict[str, str]]:
    with EXTRA_CSV.open(newline="") as f:
        return list(csv.DictReader(f))


ROWS = _rows()


def _positive_float(text: str) -> float:
    value = float(text)
    assert math.isfinite(value) and value > 0, text
    return value


def test_header_is_the_calibration_header_with_attention_dp() -> None:
    with EXTRA_CSV.open(newline="") as f:
        header = list(next(csv.reader(f)))
    assert header.pop(header.index("expert_parallel") + 1) == "attention_data_parallel"
    assert tuple(header) == COLUMNS


def test_attention_dp_is_the_stated_one() -> None:
    # TensorRT-LLM's enable_attention_dp makes every TP rank its own attention group (adp = tp);
    # a row whose note states it runs at that degree, every other row without attention DP.
    stated = 0
    for r in ROWS:
        on = "enable_attention_dp: true" in r["note"] and int(r["tensor_parallel"]) > 1
        assert r["attention_data_parallel"] == (r["tensor_parallel"] if on else ""), r["row_id"]
        stated += on
    assert stated == 65


def test_header_matches_shared_calibration_file() -> None:
    with CALIBRATION_CSV.open(newline="") as f:
        assert tuple(next(csv.reader(f))) == COLUMNS


def test_file_has_rows_for_every_gap() -> None:
    # The file exists to add what calibration.csv lacks: decode latency at small batch, PP > 1,
    # PCIe-only multi-device runs, MoE and other accelerators.
    assert len(ROWS) >= 60
    small_batch_latency = [
        r for r in ROWS
        if r["load_type"] == "static_batch_e2e_latency" and int(r["batch_or_concurrency"]) <= 64
    ]
    assert len(small_batch_latency) >= 20
    small_batch_tpot = [r for r in ROWS if r["tpot_or_itl_ms"] and int(r["batch_or_concurrency"]) <= 64]
    assert len(small_batch_tpot) >= 50
    assert sum(int(r["pipeline_parallel"]) > 1 for r in ROWS) >= 20
    assert sum(r["hardware_id"] == "rtx-pro-6000" and int(r["num_devices"]) > 1 for r in ROWS) >= 20
    assert {"Qwen/Qwen3-30B-A3B", "Qwen/Qwen3-235B-A22B"} <= {r["model_id"] for r in ROWS}
    assert {"mi300x", "h200-sxm", "b200"} <= {r["hardware_id"] for r in ROWS}


def test_row_ids_are_unique_and_prefixed_x() -> None:
    ids = [r["row_id"] for r in ROWS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"x[1-9][0-9]*", i) for i in ids), [i for i in ids if not re.fullmatch(r"x\d+", i)]


@pytest.mark.parametrize("column", ("source", "framework", "hardware", "model", "precision", "note"))
def test_every_row_names_its_provenance(column: str) -> None:
    empty = [r["row_id"] for r in ROWS if not r[column].strip()]
    assert empty == []


def test_normalized_columns_use_the_allowed_values() -> None:
    assert {r["load_type"] for r in ROWS} <= LOAD_TYPES
    assert {r["dtype"] for r in ROWS} <= DTYPES
    assert {r["hardware_id"] for r in ROWS} <= HARDWARE_IDS


def test_model_ids_are_hugging_face_ids() -> None:
    for r in ROWS:
        org, _, name = r["model_id"].partition("/")
        assert org in KNOWN_ORGS and name and "/" not in name, r["row_id"]


def test_model_ids_have_a_config_in_shared_or_are_listed_extras() -> None:
    config_names = {p.stem for p in (TEST_DATA / "model_configs").glob("*.json")}
    assert len(config_names) >= 17
    for r in ROWS:
        model_id = r["model_id"]
        assert model_id in EXTRA_MODEL_IDS or model_id.split("/")[1] in config_names, (r["row_id"], model_id)


def test_integer_columns_parse_and_devices_are_the_product_of_the_layout() -> None:
    for r in ROWS:
        values = {c: int(r[c]) for c in INT_COLUMNS}
        assert all(v > 0 for v in values.values()), r["row_id"]
        layout = values["tensor_parallel"] * values["pipeline_parallel"] * values["data_parallel"]
        assert values["num_devices"] == layout, r["row_id"]
        if r["expert_parallel"]:
            assert int(r["expert_parallel"]) > 0, r["row_id"]


def test_metric_columns_parse_as_positive_numbers() -> None:
    for r in ROWS:
        present = [c for c in METRIC_COLUMNS if r[c].strip()]
        assert present, f"{r['row_id']} has no metric"
        for c in present:
            _positive_float(r[c])


def test_per_device_throughput_is_total_over_devices() -> None:
    for r in ROWS:
        if r["throughput_output_tok_s_total"] and r["throughput_output_tok_s_per_device"]:
            total = float(r["throughput_output_tok_s_total"])
            per_device = float(r["throughput_output_tok_s_per_device"])
            assert per_device * int(r["num_devices"]) == pytest.approx(total, rel=1e-3), r["row_id"]


def test_each_load_type_carries_the_metric_it_is_validated_on() -> None:
    for r in ROWS:
        load_type = r["load_type"]
        if load_type == "offline_max_throughput":
            assert r["throughput_output_tok_s_total"], r["row_id"]
        elif load_type == "batch1_first_token_latency":
            assert r["ttft_ms"] and r["batch_or_concurrency"] == "1", r["row_id"]
        elif load_type in FIXED_BATCH_LOAD_TYPES:
            # A fixed batch or concurrency is a number, never a description.
            assert int(r["batch_or_concurrency"]) > 0, r["row_id"]
            assert r["throughput_output_tok_s_total"] or r["tpot_or_itl_ms"], r["row_id"]


def test_static_batch_throughput_agrees_with_end_to_end_latency() -> None:
    # Where both are given, batch x output tokens / e2e latency is the throughput (within rounding
    # of the published figures, which include prefill in the latency).
    for r in ROWS:
        if r["load_type"] == "static_batch_e2e_latency" and r["e2e_latency_s"] and r["throughput_output_tok_s_total"]:
            implied = int(r["batch_or_concurrency"]) * int(r["output_len"]) / float(r["e2e_latency_s"])
            assert float(r["throughput_output_tok_s_total"]) == pytest.approx(implied, rel=0.03), r["row_id"]


def test_latency_columns_agree_with_each_other() -> None:
    # First token plus (output_len - 1) decode steps is the request latency; a transcription slip in
    # any of the three columns breaks this (queueing at high concurrency would too, hence the 3%).
    for r in ROWS:
        if r["ttft_ms"] and r["tpot_or_itl_ms"] and r["e2e_latency_s"]:
            steps = int(r["output_len"]) - 1
            implied_s = (float(r["ttft_ms"]) + float(r["tpot_or_itl_ms"]) * steps) / 1000.0
            assert implied_s == pytest.approx(float(r["e2e_latency_s"]), rel=0.03), r["row_id"]


def test_no_row_repeats_another() -> None:
    keys = [
        (r["model_id"], r["hardware_id"], r["dtype"], r["tensor_parallel"], r["pipeline_parallel"],
         r["data_parallel"], r["input_len"], r["output_len"], r["batch_or_concurrency"], r["load_type"],
         r["framework"], r["source"])
        for r in ROWS
    ]
    assert len(keys) == len(set(keys))


def test_no_row_duplicates_calibration_csv() -> None:
    with CALIBRATION_CSV.open(newline="") as f:
        published = {
            (r["model_id"], r["hardware_id"], r["dtype"], r["tensor_parallel"], r["pipeline_parallel"],
             r["input_len"], r["output_len"], r["load_type"], r["throughput_output_tok_s_total"], r["ttft_ms"])
            for r in csv.DictReader(f)
        }
    for r in ROWS:
        key = (r["model_id"], r["hardware_id"], r["dtype"], r["tensor_parallel"], r["pipeline_parallel"],
               r["input_len"], r["output_len"], r["load_type"], r["throughput_output_tok_s_total"], r["ttft_ms"])
        assert key not in published, r["row_id"]
