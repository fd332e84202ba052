"""Reading measurement rows: the KV-cache format a published run used for its weight format."""
from __future__ import annotations

import csv
from pathlib import Path

from cost_models.measurements import REQUIRED_COLUMNS, read_measurements


def _write(tmp_path: Path, dtype: str) -> Path:
    path = tmp_path / "rows.csv"
    row = {c: "" for c in REQUIRED_COLUMNS}
    row.update(row_id="r1", model_id="meta-llama/Llama-3.1-8B", hardware_id="b200", dtype=dtype,
               tensor_parallel="1", pipeline_parallel="1", data_parallel="1", input_len="128", output_len="128",
               batch_or_concurrency="max-load", load_type="offline_max_throughput",
               throughput_output_tok_s_total="1000")
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(REQUIRED_COLUMNS))
        writer.writeheader()
        writer.writerow(row)
    return path


def test_nvfp4_rows_keep_an_fp8_kv_cache(tmp_path):
    # TensorRT-LLM quantization guide: an NVFP4 KV cache is a separate opt-in ModelOpt recipe;
    # NVFP4 checkpoints run with an FP8 KV cache.
    rows, skipped = read_measurements(_write(tmp_path, "fp4"))
    assert not skipped
    assert rows[0].dtype == "fp4" and rows[0].kv_dtype == "fp8"


def test_8_and_16_bit_rows_keep_the_weight_format_for_kv(tmp_path):
    for dtype in ("fp8", "fp16"):
        rows, _ = read_measurements(_write(tmp_path, dtype))
        assert rows[0].kv_dtype == dtype
