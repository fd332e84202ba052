"""A checkpoint's quantization_config: its native weight format, bytes, and what it leaves 16-bit.

Golden: OpenAI gpt-oss model card (arXiv 2508.10925, Table 1): checkpoint size 60.8 GiB for
gpt-oss-120b and 12.8 GiB for gpt-oss-20b, MXFP4 MoE weights with the rest in bf16.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from autotune import api
from autotune.errors import InputError
from autotune.specs.architectures import model_spec_from_config
from autotune.specs.model_loader import load_model
from autotune.specs.quantization import MXFP4_BYTES, NVFP4_BYTES, parse_quantization
from autotune.specs.workload import Workload, default_formats
from cost_models import memory, timing
from cost_models.evaluate import candidate_inputs
from cost_models.params import load_params

PRESETS = Path(__file__).resolve().parents[2] / "autotune" / "presets" / "models"
GIB = 1024 ** 3


def _config(name: str, **changes) -> dict:
    config = json.loads((PRESETS / f"{name}.json").read_text())
    config.update(copy.deepcopy(changes))
    return config


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gpt-oss-120b", "gpt-oss-20b"])
def test_gpt_oss_presets_are_mxfp4_experts_only(name):
    quant = load_model(name).quantization
    assert quant is not None
    assert (quant.method, quant.dtype, quant.experts_only) == ("mxfp4", "fp4", True)
    assert quant.bytes_per_param == 0.5 + 1 / 32          # 4-bit values + one E8M0 scale per 32 (OCP MX v1.0)
    assert "model.layers.*.self_attn" in quant.unquantized and "lm_head" in quant.unquantized
    assert load_model(name).checkpoint_dtype == "fp4"


def test_deepseek_v3_is_block_fp8():
    quant = load_model("deepseek-v3").quantization
    # config.json: quant_method fp8, fmt e4m3, weight_block_size [128, 128] (one fp32 scale per block).
    assert (quant.dtype, quant.experts_only) == ("fp8", False)
    assert quant.bytes_per_param == pytest.approx(1 + 4 / (128 * 128))


def test_unquantized_presets_have_no_checkpoint_dtype():
    assert load_model("llama-3.1-8b").checkpoint_dtype is None


@pytest.mark.parametrize(("quantization_config", "expected"), [
    # RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8 style (llm-compressor FP8 dynamic).
    ({"quant_method": "compressed-tensors", "format": "float-quantized", "ignore": ["lm_head"],
      "config_groups": {"group_0": {"targets": ["Linear"], "weights": {"num_bits": 8, "type": "float"}}}},
     ("fp8", 1.0, None)),
    # W4A16 group 128, symmetric: 0.5 + 2 bytes / 128.
    ({"quant_method": "compressed-tensors", "format": "pack-quantized",
      "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "int", "group_size": 128,
                                                "symmetric": True}}},
      "kv_cache_scheme": {"num_bits": 8, "type": "float"}},
     ("int4", 0.5 + 2 / 128, "fp8")),
    # AutoAWQ: 4 bits, group 128, zero point: 0.5 + (2 + 0.5) / 128.
    ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}, ("int4", 0.5 + 2.5 / 128, None)),
    ({"quant_method": "gptq", "bits": 8, "group_size": -1, "sym": True}, ("int8", 1.0, None)),
    # TensorRT Model Optimizer NVFP4 with an FP8 KV cache.
    ({"quant_method": "modelopt", "quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8"}, ("fp4", NVFP4_BYTES, "fp8")),
])
def test_other_methods(quantization_config, expected):
    quant = parse_quantization({"quantization_config": quantization_config}, source="c.json")
    assert (quant.dtype, pytest.approx(quant.bytes_per_param), quant.kv_dtype) == expected


@pytest.mark.parametrize(("quantization_config", "field"), [
    ({"quant_method": "hqq"}, "quantization_config.quant_method"),
    ("fp8", "quantization_config"),
    ({"quant_method": "fp8", "weight_block_size": [128]}, "quantization_config.weight_block_size"),
    ({"quant_method": "awq", "bits": 3}, "quantization_config.bits"),
])
def test_bad_quantization_config_is_one_input_error(quantization_config, field):
    with pytest.raises(InputError, match=f"c.json: field '{field}'"):
        model_spec_from_config(_config("llama-3.1-8b", quantization_config=quantization_config), source="c.json")


# --- bytes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "card_gib"), [("gpt-oss-120b", 60.8), ("gpt-oss-20b", 12.8)])
def test_gpt_oss_checkpoint_size_matches_the_model_card(name, card_gib):
    model = load_model(name)
    # Before: 4 bits for every parameter, 58.4 GB (54.4 GiB) for gpt-oss-120b.
    assert model.weight_bytes("fp4") / GIB == pytest.approx(card_gib, rel=0.005)
    dense, expert = model.decoder_bytes_per_param("fp4")
    assert (dense, expert) == (2.0, MXFP4_BYTES)
    # Another format than the checkpoint's: every weight in it, as before.
    assert model.weight_bytes("fp8") == model.total_params
    assert model.decoder_bytes_per_param("fp8") == (1.0, 1.0)


def test_gpt_oss_120b_weight_bytes_in_fp4_are_the_checkpoints():
    facts = load_model("gpt-oss-120b").to_dict()
    assert facts["weight_bytes"]["fp4"] == 65_190_340_224          # ~65 GB, not 58.4
    assert facts["checkpoint"]["weight_bytes"] == facts["weight_bytes"]["fp4"]
    assert facts["checkpoint"]["dtype"] == "fp4"


# --- cost model ------------------------------------------------------------------------------


def _rows(model, hardware, dtype: str, *, tp: int = 1, batch: int = 1):
    from autotune.specs.candidates import Candidates
    one = np.ones(1, dtype=np.int64)
    candidates = Candidates(tp=one * tp, pp=one, dp=one, batch=one * batch, cards=one)
    return candidate_inputs(model, api.load_hardware(hardware), Workload(dtype=dtype), candidates, load_params())


def test_memory_holds_the_checkpoint_bytes():
    model = load_model("gpt-oss-120b")
    rows = _rows(model, "h100-sxm", "fp4")
    assert rows.expert_weight_bytes_per_param[0] == MXFP4_BYTES and rows.weight_bytes_per_param[0] == 2.0
    # TP 1: one GPU holds the whole checkpoint.
    assert memory.weights_bytes(rows)[0] == pytest.approx(model.weight_bytes("fp4"), rel=1e-12)
    # TP 2 halves it (8 KV heads: K/V projections split too).
    assert memory.weights_bytes(_rows(model, "h100-sxm", "fp4", tp=2))[0] == pytest.approx(
        model.weight_bytes("fp4") / 2, rel=1e-3)


def test_decode_traffic_reads_experts_at_their_own_bytes():
    model = load_model("gpt-oss-120b")
    rows = _rows(model, "h100-sxm", "fp4", batch=1)
    work = timing.StageWork(decode_tokens=np.array([1.0]), prefill_tokens=np.array([0.0]),
                            prefill_sequences=np.array([0.0]))
    weights, _ = timing.stage_traffic_bytes_per_unit(rows, work)
    # One token reads top-4 experts of each MoE layer at 4.25 bits, the rest of its layer weights at 16 bits,
    # and the LM head at 16 bits.
    active_experts = sum(model.moe_layers) * model.experts_per_token * model.expert_params
    dense_active = sum(model.layer_active_params) - active_experts
    expected = active_experts * MXFP4_BYTES + dense_active * 2.0 + model.lm_head_params * 2.0
    assert weights[0] == pytest.approx(expected, rel=1e-9)


def test_a_dense_model_is_priced_as_before():
    model = load_model("llama-3.1-8b")
    rows = _rows(model, "h100-sxm", "fp8")
    assert rows.expert_weight_bytes_per_param[0] == rows.weight_bytes_per_param[0] == 1.0


# --- default weight format -------------------------------------------------------------------


def test_default_formats_follow_the_checkpoint_where_the_runtime_serves_it():
    gpu = api.load_space("gpu").dtypes
    rngd = api.load_space("furiosa-2026.4").dtypes
    assert default_formats(load_model("gpt-oss-120b"), gpu) == ("fp4", "bf16")
    assert default_formats(load_model("deepseek-v3"), gpu) == ("fp8", "bf16")
    assert default_formats(load_model("gpt-oss-120b"), rngd) == ("bf16", None)   # RNGD serves bf16, fp8
    assert default_formats(load_model("llama-3.1-8b"), gpu) == ("bf16", None)


def test_api_default_workload_is_the_checkpoints():
    result = api.recommend("gpt-oss-120b", "h100-sxm", cards=1, alternatives=False)
    assert result.recommendations, result.reasons
    assert (result.assumptions.dtype, result.assumptions.kv_dtype) == ("fp4", "bf16")
    explicit = api.resolve("gpt-oss-120b", "h100-sxm", Workload(dtype="bf16"), cards=1)
    assert explicit.workload.dtype == "bf16"
