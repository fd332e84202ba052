"""Reading measurement rows: the KV-cache format a published run used, the engine trtllm-bench built, builtin names."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from autotune.errors import InputError
from cost_models.measurements import (BUILTIN_MEASUREMENTS, REQUIRED_COLUMNS, builtin_name_of, measurements_path,
                                      read_measurements, trtllm_bench_max_num_tokens)
from cost_models.params import load_params
from cost_models.regimes import prepare
from tests.unit.test_cost_memory import device, tiny_model


def _write(tmp_path: Path, dtype: str, batch_text: str = "max-load") -> Path:
    path = tmp_path / "rows.csv"
    row = {c: "" for c in REQUIRED_COLUMNS}
    row.update(row_id="r1", model_id="meta-llama/Llama-3.1-8B", hardware_id="b200", dtype=dtype,
               tensor_parallel="1", pipeline_parallel="1", data_parallel="1", input_len="128", output_len="128",
               batch_or_concurrency=batch_text, load_type="offline_max_throughput",
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


def test_trtllm_bench_max_num_tokens_by_hand():
    # TensorRT-LLM bench/build/tuning.py on a 4-layer model (2 KV heads of 16, fp16: 512 B of KV
    # per token) and 552,064 B of weights. 1 GB device, ISL 100 / OSL 28: (1e9 - 552,064) x 0.95 /
    # (512 x 128) = 14,488 requests -> capped at 4096; x (1 + 100/28) = 18,725 tokens -> 19 x 1024.
    model = tiny_model()
    assert model.total_params * 2 == 552_064
    assert trtllm_bench_max_num_tokens(model, device(capacity=1e9), "fp16", 1, 1, 100, 28) == 19 * 1024
    # 20 MB device, ISL 10 / OSL 1000: 35.7 requests x 1.01 = 36 tokens -> the 2048 floor.
    assert trtllm_bench_max_num_tokens(model, device(capacity=2e7), "fp16", 1, 1, 10, 1000) == 2048
    # PP divides the batch: 4096 / 2 x (1 + 100/28) = 9,362 tokens -> 10 x 1024.
    assert trtllm_bench_max_num_tokens(model, device(capacity=1e9), "fp16", 1, 2, 100, 28) == 10 * 1024
    # Formats trtllm-bench does not tune keep the engine default (None).
    assert trtllm_bench_max_num_tokens(model, device(capacity=1e9), "int4", 1, 1, 100, 28) is None


def test_trtllm_bench_rows_size_the_workspace_with_the_tuned_tokens(tmp_path):
    rows, _ = read_measurements(_write(tmp_path, "fp16", batch_text="max-load (trtllm-bench throughput)"))
    assert rows[0].engine_max_num_tokens is not None and rows[0].engine_max_num_tokens >= 2048
    prepared = prepare(rows, load_params())
    assert prepared.inputs.activation_tokens[0] == rows[0].engine_max_num_tokens
    other, _ = read_measurements(_write(tmp_path, "fp16"))
    assert other[0].engine_max_num_tokens is None
    assert prepare(other, load_params()).inputs.activation_tokens[0] == load_params().activation_tokens


def test_builtin_names_resolve_to_the_package_data_files():
    tomllib = pytest.importorskip("tomllib")        # Python 3.11+ (pyproject allows 3.10)
    root = Path(__file__).resolve().parents[2]
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "data/*.csv" in package_data["cost_models"]          # installed beside cost_models/
    for name, path in BUILTIN_MEASUREMENTS.items():
        assert path.parent == root / "cost_models" / "data" and path.suffix == ".csv" and path.is_file()
        assert measurements_path(f"builtin:{name}") == path
        assert builtin_name_of(f"builtin:{name}") == name
        assert builtin_name_of(path.relative_to(root)) in (name, None)   # relative: depends on the cwd
    assert builtin_name_of(root / "cost_models" / "data" / "measurements_extra.csv") == "extra"
    assert measurements_path("some/file.csv") == Path("some/file.csv")
    with pytest.raises(InputError, match="builtin:calibration, builtin:extra"):
        measurements_path("builtin:calib")
