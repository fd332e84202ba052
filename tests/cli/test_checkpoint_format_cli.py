"""Without --dtype, a pre-quantized checkpoint is planned in its own format, and the commands serve it as given."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

PRESETS = Path(__file__).resolve().parents[2] / "autotune" / "presets" / "models"


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotune", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def test_gpt_oss_120b_fits_one_h100_in_its_mxfp4_checkpoint():
    # Before: bf16 by default (234 GB of weights), no layout on one H100.
    result = _run("recommend", "--model", "gpt-oss-120b", "--hardware", "h100-sxm", "--devices", "1", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["assumptions"]["dtype"], doc["assumptions"]["kv_dtype"]) == ("fp4", "bf16")


def test_an_explicit_dtype_wins():
    result = _run("recommend", "--model", "gpt-oss-120b", "--hardware", "h100-sxm", "--devices", "8",
                  "--dtype", "bf16", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["assumptions"]["dtype"] == "bf16"


def test_a_format_the_runtime_does_not_serve_falls_back_to_bf16():
    # RNGD spaces serve bf16 and fp8, not MXFP4.
    result = _run("recommend", "--model", "gpt-oss-20b", "--cards", "8", "--json")
    assert result.returncode in (0, 1), result.stderr
    assert json.loads(result.stdout)["assumptions"]["dtype"] == "bf16"


def test_emitted_command_serves_the_checkpoint_given(tmp_path):
    result = _run("recommend", "--model", "gpt-oss-120b", "--hardware", "h100-sxm", "--devices", "1",
                  "--emit", "vllm")
    assert result.returncode == 0, result.stderr
    text = result.stdout.replace("\\\n", " ")
    assert "vllm serve openai/gpt-oss-120b " in text
    assert "--quantization" not in text and "pass a checkpoint already quantized" not in text
    # A local copy of the checkpoint: the folder is served, in its own format.
    folder = tmp_path / "gpt-oss-120b"
    folder.mkdir()
    shutil.copy(PRESETS / "gpt-oss-120b.json", folder / "config.json")
    local = _run("recommend", "--model", "./gpt-oss-120b", "--hardware", "h100-sxm", "--devices", "1",
                 "--emit", "vllm", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    assert "vllm serve ./gpt-oss-120b " in local.stdout.replace("\\\n", " ")
    assert "weights fp4" in local.stdout


def test_models_json_reports_the_checkpoint_bytes():
    result = _run("models", "gpt-oss-120b", "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    # OpenAI gpt-oss model card: 60.8 GiB checkpoint (about 65 GB), not 4 bits for every weight (58.4 GB).
    assert abs(facts["weight_bytes"]["fp4"] / 1024 ** 3 - 60.8) < 0.3
    assert facts["checkpoint"]["method"] == "mxfp4"
