"""Output wording through the real entry point: GPU answers speak of GPUs, never of cards (issue 8, 3.11)."""
from __future__ import annotations

import re

from tests.cli.solver_cli import autotune


def _header(text: str) -> list[str]:
    return next(line for line in text.splitlines() if " status " in line).split()


def test_gpu_sweep_counts_gpus_in_the_table_and_the_settings_labels():
    run = autotune("sweep", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--devices", "1,2",
                   "--emit", "vllm")
    assert run.code == 0, run.stderr
    assert not re.search(r"\bcards?\b", run.stdout), run.stdout
    assert "settings for llama-3.1-8b, bf16, input 2048, 1 GPU (vllm):" in run.stdout
    assert "settings for llama-3.1-8b, bf16, input 2048, 2 GPUs (vllm):" in run.stdout
    assert _header(run.stdout)[0] == "GPUs"


def test_rngd_sweep_still_counts_cards():
    run = autotune("sweep", "--model", "llama-3.1-8b", "--cards", "1,2")
    assert run.code == 0, run.stderr
    assert _header(run.stdout)[0] == "cards"


def test_gpu_recommend_pareto_and_enumerate_never_say_card():
    for command in (("recommend",), ("pareto",), ("enumerate", "--limit", "5")):
        run = autotune(*command, "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--devices", "2")
        assert run.code == 0, run.stderr
        assert not re.search(r"\bcards?\b", run.stdout), (command, run.stdout)
