"""4-bit weights on a GPU run with the KV format engines use by default, not one the user never passed."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _recommend(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotune", "recommend", "--model", "llama-3.1-8b", "--devices", "1",
                           "--json", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("hardware", "dtype", "kv"), [("h100-sxm", "int4", "bf16"), ("b200", "fp4", "fp8"),
                                                       ("h100-sxm", "int8", "bf16")])
def test_quantized_weights_solve_with_the_engines_kv_format(hardware, dtype, kv):
    # Before: exit 2, "--kv-dtype: got 'int4'; expected a format gpu serves".
    result = _recommend("--hardware", hardware, "--dtype", dtype)
    assert result.returncode == 0, result.stderr
    assumptions = json.loads(result.stdout)["assumptions"]
    assert (assumptions["dtype"], assumptions["kv_dtype"]) == (dtype, kv)


def test_int8_kv_is_not_offered_on_gpus():
    # No GPU emitter renders an int8 KV cache (vLLM/SGLang/TRT-LLM take fp8 or the 16-bit default).
    result = _recommend("--hardware", "h100-sxm", "--kv-dtype", "int8")
    assert result.returncode == 2
    assert "--kv-dtype" in result.stderr and "bf16, fp16, fp8" in result.stderr
