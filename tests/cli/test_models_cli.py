"""`autotune models` through the real entry point: output, JSON contract, exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotune", "models", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_llama_70b_json_reports_the_exact_total() -> None:
    result = _run("llama-3.1-70b", "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["total_params"] == 70_553_706_496
    assert facts["active_params"] == 70_553_706_496
    assert facts["name"] == "llama-3.1-70b"
    assert facts["model_type"] == "llama"
    assert (facts["num_layers"], facts["hidden_size"]) == (80, 8192)
    assert (facts["num_attention_heads"], facts["num_key_value_heads"], facts["head_dim"]) == (64, 8, 128)
    assert facts["kv_cache_bytes_per_token"] == 327_680
    assert facts["weight_bytes"]["bf16"] == 2 * 70_553_706_496
    assert set(facts["weight_bytes"]) == {"bf16", "fp16", "fp8", "int8", "int4", "fp4"}


def test_hf_id_and_moe_fields() -> None:
    result = _run("mistralai/Mixtral-8x7B-v0.1", "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["active_params"] == 12_879_925_248
    assert (facts["num_experts"], facts["experts_per_token"]) == (8, 2)


def test_list_as_json() -> None:
    result = _run("--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    names = [row["name"] for row in rows]
    assert names == sorted(names)
    assert {"llama-3.1-70b", "falcon-180b", "deepseek-v3"} <= set(names)
    assert set(rows[0]) == {"name", "hf_id", "model_type", "total_params", "active_params"}


def test_list_as_table_fits_100_columns() -> None:
    result = _run()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "HUGGING"]
    assert any(line.startswith("llama-3.1-70b ") and "70.55B" in line for line in lines)
    assert max(len(line) for line in lines) <= 100


def test_one_model_as_text_fits_100_columns() -> None:
    result = _run("deepseek-v3")
    assert result.returncode == 0, result.stderr
    assert "671,026,419,200" in result.stdout
    assert "MLA latent" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 100


def test_config_path(tmp_path: Path) -> None:
    config = {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
              "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
              "tie_word_embeddings": True}
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = _run(str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total_params"] == 494_032_768  # Qwen/Qwen2-0.5B


def test_unknown_preset_exits_2_with_one_line() -> None:
    result = _run("llama-3.1-7b", "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "did you mean" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": "eighty"}))
    result = _run(str(path))
    assert result.returncode == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert str(path) in line and "num_hidden_layers" in line and "'eighty'" in line


def test_bad_context_flag_exits_2() -> None:
    result = _run("llama-3.1-8b", "--context", "0")
    assert result.returncode == 2
    assert "--context" in result.stderr
