"""Workload validates its own fields."""
import pytest

from autotune.errors import InputError
from autotune.specs.workload import Workload


def test_defaults_and_derived():
    workload = Workload(input_len=1000, output_len=24, dtype="fp8")
    assert workload.context_len == 1024
    assert workload.cache_dtype == "fp8"
    assert Workload(dtype="fp8", kv_dtype="bf16").cache_dtype == "bf16"


@pytest.mark.parametrize("kwargs, field", [
    ({"input_len": 0}, "input_len"),
    ({"output_len": -1}, "output_len"),
    ({"batch": "many"}, "batch"),
    ({"ttft_ms": float("nan")}, "ttft_ms"),
    ({"tpot_ms": -5.0}, "tpot_ms"),
    ({"dtype": "fp64"}, "dtype"),
])
def test_bad_fields(kwargs, field):
    with pytest.raises(InputError, match=f"field '{field}'"):
        Workload(**kwargs)


def test_default_kv_format_follows_the_weights_as_engines_run_them():
    # vLLM/SGLang `--kv-cache-dtype auto`: the model's 16-bit dtype for INT4 (W4A16) and INT8 (W8A8) checkpoints;
    # NVFP4 (ModelOpt) checkpoints carry kv_cache_quant_algo FP8 (TensorRT-LLM quantization guide).
    assert Workload(dtype="int4").cache_dtype == "bf16"
    assert Workload(dtype="int8").cache_dtype == "bf16"
    assert Workload(dtype="fp4").cache_dtype == "fp8"
    assert Workload(dtype="bf16").cache_dtype == "bf16"
    assert Workload(dtype="fp16").cache_dtype == "fp16"
    assert Workload(dtype="int4", kv_dtype="fp8").cache_dtype == "fp8"  # an explicit --kv-dtype wins
