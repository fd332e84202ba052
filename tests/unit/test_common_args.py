"""Shared input flags: every bad value is one InputError naming the flag."""
from __future__ import annotations

import argparse

import pytest

from autotune.commands import common_args as ca
from autotune.errors import InputError


def _args(*argv: str, model: str = "llama-3.1-8b") -> argparse.Namespace:
    # A real model: without --dtype the workload takes the checkpoint's format, read from the model.
    parser = argparse.ArgumentParser()
    ca.add_input_arguments(parser)
    ca.add_degree_arguments(parser)
    ca.add_solver_arguments(parser)
    return parser.parse_args(["--model", model, *argv])


def test_defaults_make_the_default_workload():
    workload = ca.workload_from_args(_args())
    assert (workload.input_len, workload.output_len, workload.batch, workload.dtype) == (2048, 512, "auto", "bf16")
    assert ca.cards_from_args(_args()) is None


def test_without_dtype_a_quantized_checkpoint_keeps_its_format():
    # gpt-oss-120b config.json: quantization_config mxfp4 (experts); the gpu space serves fp4.
    workload = ca.workload_from_args(_args("--hardware", "h100-sxm", model="gpt-oss-120b"))
    assert (workload.dtype, workload.cache_dtype) == ("fp4", "bf16")
    # RNGD's default space serves bf16 and fp8 only: bf16.
    assert ca.workload_from_args(_args(model="gpt-oss-120b")).dtype == "bf16"
    # DeepSeek-V3 ships FP8, which RNGD serves.
    assert ca.workload_from_args(_args(model="deepseek-v3")).dtype == "fp8"
    assert ca.workload_from_args(_args("--dtype", "bf16", model="deepseek-v3")).dtype == "bf16"


def test_devices_is_a_synonym_of_cards():
    assert ca.cards_from_args(_args("--devices", "16")) == 16


@pytest.mark.parametrize("argv, flag", [
    (("--input-len", "0"), "--input-len"), (("--batch", "many"), "--batch"), (("--tpot-ms", "-1"), "--tpot-ms"),
    (("--ttft-ms", "inf"), "--ttft-ms"), (("--dtype", "fp12"), "--dtype"), (("--kv-dtype", "x"), "--kv-dtype"),
])
def test_bad_workload_flags(argv, flag):
    with pytest.raises(InputError, match=flag):
        ca.workload_from_args(_args(*argv))


def test_bad_degrees_and_time_limit():
    with pytest.raises(InputError, match="--tp"):
        ca.degrees_from_args(_args("--tp", "0"))
    with pytest.raises(InputError, match="--time-limit"):
        ca.time_limit_from_args(_args("--time-limit", "soon"))
    assert ca.degrees_from_args(_args("--pp", "2")) == {"tp": None, "pp": 2, "dp": None, "ep": None, "adp": None}


def test_sweep_models_share_a_format_only_when_their_checkpoints_agree():
    args = _args("--hardware", "h100-sxm")
    args.models = "gpt-oss-20b,gpt-oss-120b"
    assert ca.formats_from_args(args) == ("fp4", "bf16")
    args.models = "gpt-oss-20b,llama-3.1-8b"   # one workload for both: never llama in gpt-oss's MXFP4
    assert ca.formats_from_args(args) == ("bf16", None)
