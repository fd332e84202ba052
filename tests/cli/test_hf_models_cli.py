"""`autotune models ORG/NAME` through the real entry point, with a Hugging Face cache under HF_HOME.

The subprocess runs offline (HF_HUB_OFFLINE=1): these tests never touch the network.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.unit.hf_cache_builder import add_to_cache, preset_config

QWEN25_7B_TOTAL = 7_615_616_512  # Qwen/Qwen2.5-7B config (tests/golden/test_param_counts.py)


def _run(*args: str, hf_home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    return subprocess.run([sys.executable, "-m", "autotune", "models", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_id_in_the_cache_exits_0(tmp_path: Path) -> None:
    # The Qwen2.5-7B config stands in for the 32B-Instruct one: what is checked is where it is read from.
    add_to_cache(tmp_path / "hub", "Qwen/Qwen2.5-32B-Instruct", preset_config("qwen2.5-7b"))
    result = _run("Qwen/Qwen2.5-32B-Instruct", "--json", hf_home=tmp_path)
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["name"] == facts["hf_id"] == "Qwen/Qwen2.5-32B-Instruct"
    assert facts["total_params"] == QWEN25_7B_TOTAL


def test_cache_folder_as_a_path_exits_0(tmp_path: Path) -> None:
    snapshot = add_to_cache(tmp_path / "hub", "Qwen/Qwen2.5-32B-Instruct", preset_config("qwen2.5-7b"))
    result = _run(str(snapshot.parent.parent), "--json", hf_home=tmp_path / "other")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["hf_id"] == "Qwen/Qwen2.5-32B-Instruct"


def test_offline_and_not_cached_exits_2_in_one_line(tmp_path: Path) -> None:
    result = _run("Qwen/Qwen2.5-32B-Instruct", hf_home=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "'Qwen/Qwen2.5-32B-Instruct' is not a preset, not in the Hugging Face cache at " in lines[0]
    assert str(tmp_path / "hub") in lines[0]
    assert "set HF_HUB_OFFLINE=0 or pass a folder" in lines[0]


def test_preset_prefix_exits_0_and_ambiguous_prefix_exits_2(tmp_path: Path) -> None:
    result = _run("mixtral-8x7b", "--json", hf_home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "mixtral-8x7b-v0.1"
    ambiguous = _run("qwen3-", hf_home=tmp_path)
    assert ambiguous.returncode == 2
    assert "qwen3-235b-a22b" in ambiguous.stderr and len(ambiguous.stderr.strip().splitlines()) == 1
