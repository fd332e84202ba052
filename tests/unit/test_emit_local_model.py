"""A local model folder: every emitter loads the folder (never its config.json) and names artifacts after it."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autotune.outputs.emit import FORMATS, emit, furiosa_for
from autotune.parallel_plan import ParallelPlan
from autotune.specs.model_loader import load_model
from autotune.specs.workload import Workload

PRESETS = Path(__file__).resolve().parents[2] / "autotune" / "presets" / "models"
PLAN = ParallelPlan(tensor_parallel_size=8, pipeline_parallel_size=1, data_parallel_size=1, batch_size=4,
                    cards_used=1, pes_used=8)
GPU_PLAN = ParallelPlan(tensor_parallel_size=2, pipeline_parallel_size=1, data_parallel_size=1, batch_size=4,
                        cards_used=2, pes_used=2)
WORKLOAD = Workload(input_len=1000, output_len=200)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A checkpoint folder holding the real Qwen2.5-7B config.json (a shipped preset)."""
    target = tmp_path / "qwen25-7b"
    target.mkdir()
    shutil.copy(PRESETS / "qwen2.5-7b.json", target / "config.json")
    return target


@pytest.mark.parametrize("given", ["folder", "folder/", "config"])
def test_engines_load_the_folder(folder, given):
    text = {"folder": str(folder), "folder/": str(folder) + "/", "config": str(folder / "config.json")}[given]
    model = load_model(text)
    assert model.serving_id.rstrip("/") == str(folder)
    assert model.short_name == "qwen25-7b"
    for fmt in ("vllm", "sglang", "trtllm"):
        out = emit(fmt, plan=GPU_PLAN, model=model, workload=WORKLOAD, space="gpu")
        assert "config.json" not in out, fmt
        assert str(folder) in out, fmt
    for fmt in ("yaml", "json"):
        out = emit(fmt, plan=PLAN, model=model, workload=WORKLOAD, space="furiosa-2026.4")
        assert f"checkpoint: {model.serving_id}" in out or f'"checkpoint": "{model.serving_id}"' in out


@pytest.mark.parametrize("release", ["2024.2", "2025.3", "2026.3", "2026.4"])
def test_furiosa_builds_and_serves_the_folder_and_names_the_artifact_after_it(folder, release):
    model = load_model(str(folder / "config.json"))
    settings = furiosa_for(plan=PLAN, model=model, workload=WORKLOAD, release=release)
    assert settings.model_id == str(folder)
    assert settings.artifact_path.startswith("./qwen25-7b-tp8-pp1")
    text = emit("furiosa", plan=PLAN, model=model, workload=WORKLOAD, release=release)
    assert "config.json" not in text


def test_a_relative_folder_stays_relative(folder):
    out = subprocess.run([sys.executable, "-m", "autotune", "recommend", "--model", "./qwen25-7b", "--hardware",
                          "h100-sxm", "--devices", "1", "--emit", "vllm"], capture_output=True, text=True,
                         timeout=300, cwd=folder.parent)
    assert out.returncode == 0, out.stderr
    assert "vllm serve ./qwen25-7b " in out.stdout.replace("\\\n", " ")


def test_a_config_under_another_name_uses_the_hf_id_it_names(tmp_path):
    data = json.loads((PRESETS / "qwen2.5-7b.json").read_text())
    data["_name_or_path"] = "Qwen/Qwen2.5-7B"   # what save_pretrained writes
    path = tmp_path / "my-qwen.json"
    path.write_text(json.dumps(data))
    model = load_model(str(path))
    assert model.hf_id == "Qwen/Qwen2.5-7B"
    assert model.serving_id == "Qwen/Qwen2.5-7B"
    assert furiosa_for(plan=PLAN, model=model, workload=WORKLOAD, release="2026.4").artifact_path \
        == "./my-qwen-tp8-pp1.fxb"


def test_a_local_path_in_name_or_path_is_no_hf_id(folder):
    data = json.loads((folder / "config.json").read_text())
    data["_name_or_path"] = "/home/me/checkpoints/qwen"
    (folder / "config.json").write_text(json.dumps(data))
    model = load_model(str(folder))
    assert model.hf_id is None
    assert model.serving_id == str(folder)


def test_presets_keep_their_hf_id():
    model = load_model("llama-3.1-70b")
    assert model.serving_id == "meta-llama/Llama-3.1-70B"
    assert model.short_name == "llama-3.1-70b"
    assert set(FORMATS) == {"furiosa", "vllm", "sglang", "trtllm", "yaml", "json"}
