"""ModelSpec.max_context_len: max_position_embeddings, extended where rope_scaling declares it.

Rule (HF transformers PretrainedConfig docs, `rope_scaling.factor`: "a factor of x will enable the
model to handle sequences of length x * original maximum pre-trained length"; vLLM
`_get_and_verify_max_len` applies it to every type but llama3/longrope/su).
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from autotune.errors import InputError
from autotune.specs.architectures import model_spec_from_config
from autotune.specs.model_loader import load_model

PRESETS = Path(__file__).resolve().parents[2] / "autotune" / "presets" / "models"
QWEN = json.loads((PRESETS / "qwen2.5-7b.json").read_text())


def _qwen(**changes) -> dict:
    config = copy.deepcopy(QWEN)
    config.update(changes)
    return config


def test_llama_3_1_reports_its_extended_length_already():
    # config.json: max_position_embeddings 131072 with llama3 rope_scaling (factor 8 over 8192).
    assert load_model("llama-3.1-8b").max_context_len == 131_072


def test_llama_2_has_4096():
    # config.json: max_position_embeddings 4096, no rope_scaling.
    assert load_model("llama-2-7b").max_context_len == 4_096


def test_yarn_extends_the_pretrained_length():
    # Qwen2.5-7B-Instruct model card, "Processing Long Texts": config.json has max_position_embeddings
    # 32768, and adding rope_scaling {factor 4.0, original_max_position_embeddings 32768, type yarn}
    # serves up to 131,072 tokens.
    config = _qwen(max_position_embeddings=32768,
                   rope_scaling={"factor": 4.0, "original_max_position_embeddings": 32768, "type": "yarn"})
    spec = model_spec_from_config(config, source="qwen-yarn.json")
    assert spec.max_position_embeddings == 32_768
    assert spec.max_context_len == 131_072


def test_linear_and_dynamic_without_original_scale_max_positions():
    for kind in ("linear", "dynamic"):
        config = _qwen(max_position_embeddings=4096, rope_scaling={"rope_type": kind, "factor": 2.0})
        assert model_spec_from_config(config, source="c.json").max_context_len == 8_192


def test_a_yarn_length_below_max_positions_does_not_shrink_it():
    # DeepSeek-V3: yarn factor 40 over 4096 = 163840 = its max_position_embeddings.
    assert load_model("deepseek-v3").max_context_len == 163_840
    config = _qwen(max_position_embeddings=65536,
                   rope_scaling={"factor": 1.5, "original_max_position_embeddings": 4096, "type": "yarn"})
    assert model_spec_from_config(config, source="c.json").max_context_len == 65_536


def test_llama3_scaling_extends_nothing_more():
    # Llama-3.2-1B: llama3 factor 32 over 8192 would be 262144, but its limit is max_position_embeddings.
    assert load_model("llama-3.2-1b").max_context_len == 131_072


def test_rope_parameters_is_read_like_rope_scaling():
    config = _qwen(max_position_embeddings=32768,
                   rope_parameters={"factor": 4.0, "original_max_position_embeddings": 32768, "rope_type": "yarn"})
    assert model_spec_from_config(config, source="c.json").max_context_len == 131_072


def test_a_bad_factor_is_an_input_error():
    config = _qwen(rope_scaling={"type": "yarn", "factor": "four"})
    with pytest.raises(InputError, match=r"c\.json: field 'rope_scaling\.factor'"):
        model_spec_from_config(config, source="c.json")


def test_models_json_shows_max_context_len(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(_qwen(
        max_position_embeddings=32768,
        rope_scaling={"factor": 4.0, "original_max_position_embeddings": 32768, "type": "yarn"})))
    out = subprocess.run([sys.executable, "-m", "autotune", "models", str(tmp_path), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout)
    assert (facts["max_position_embeddings"], facts["max_context_len"]) == (32_768, 131_072)
    text = subprocess.run([sys.executable, "-m", "autotune", "models", "llama-2-7b"], capture_output=True,
                          text=True, timeout=120).stdout
    assert "max context" in text and "4,096 tokens" in text


def test_gpu_emitters_accept_a_rope_extended_context():
    # vLLM derives max_model_len = original x factor for yarn (_get_and_verify_max_len), so a 100k
    # context on the yarn-extended Qwen2.5 config above is servable; beyond 131072 it is not.
    from autotune.outputs.emit import emit
    from autotune.parallel_plan import ParallelPlan
    from autotune.specs.workload import Workload

    config = _qwen(max_position_embeddings=32768,
                   rope_scaling={"factor": 4.0, "original_max_position_embeddings": 32768, "type": "yarn"})
    model = model_spec_from_config(config, source="qwen-yarn.json")
    plan = ParallelPlan(tensor_parallel_size=1, pipeline_parallel_size=1, data_parallel_size=1, batch_size=1,
                        cards_used=1, pes_used=1)
    text = emit("vllm", plan=plan, model=model, workload=Workload(input_len=99_000, output_len=1_000))
    assert "--max-model-len 100000" in text
    with pytest.raises(InputError, match="context limit \\(131072\\)"):
        emit("vllm", plan=plan, model=model, workload=Workload(input_len=131_000, output_len=1_000))
