"""`--release R` through the real entry point: the solve uses R's rules, so the emitted settings build."""
from __future__ import annotations

import subprocess
import sys

import pytest

from autotune.outputs.emit.furiosa_releases import RELEASES


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotune", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_recommend_emits_for_every_release(release):
    # Before the fix, 2024.2, 2025.1, 2025.2, 2026.2 and 2026.3 exited 2: the plan was solved with the
    # hardware's default space (2026.4, TP 16 PEs), which those releases' builders refuse.
    result = _run("recommend", "--model", "llama-3.1-70b", "--cards", "4", "--emit", "furiosa", "--release", release)
    assert result.returncode in (0, 1), result.stderr
    if result.returncode == 1:
        assert result.stderr.strip()
    else:
        assert f"furiosa-llm {RELEASES[release].wheel}" in result.stdout or release in result.stdout


def test_space_and_release_that_disagree_is_one_line_exit_2():
    result = _run("recommend", "--model", "llama-3.1-70b", "--cards", "4", "--emit", "furiosa",
                  "--release", "2026.3", "--space", "furiosa-2026.4")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--release" in result.stderr and "furiosa-2026.4" in result.stderr
    assert "Traceback" not in result.stderr


def test_estimate_with_a_release_uses_its_rules():
    # TP 4 PEs is legal in 2026.3 (validate_parallel_config {4, 8, 32}) but not in 2026.4 (whole cards).
    result = _run("estimate", "--model", "llama-3.2-1b", "--tp", "4", "--cards", "1", "--release", "2026.3",
                  "--json")
    assert result.returncode == 0, result.stderr
    assert '"space": "furiosa-2026.3"' in result.stdout
