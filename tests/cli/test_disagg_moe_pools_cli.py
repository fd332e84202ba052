"""Disaggregated pools of an MoE model take expert and attention data parallel degrees (issue #10: each pool
"with tensor_parallel_size, pipeline_parallel_size, replicas and its degrees"), searched as the aggregated
layouts are, simulated and emitted per pool with each engine's own flags (per attention-DP rank for vLLM and
TensorRT-LLM, whole for SGLang)."""
from __future__ import annotations

import functools
import shlex

import pytest

from tests.cli.solver_cli import autotune

BASE = ("recommend", "--model", "qwen3-30b-a3b", "--hardware", "h100-sxm", "--cards", "4", "--input-len", "2000",
        "--output-len", "200", "--ttft-ms", "1000", "--tpot-ms", "20", "--rate", "8", "--mode", "disagg",
        "--requests", "300")
DEGREES = ("tensor_parallel_size", "pipeline_parallel_size", "expert_parallel_size", "attention_data_parallel_size")


@functools.lru_cache(maxsize=None)
def _recommend(*extra: str) -> dict:
    run = autotune(*BASE, *extra, "--json")
    assert run.code == 0, run.stderr
    return run.json()


def test_pools_state_their_moe_degrees_and_the_search_prices_moe_layouts():
    data = _recommend()
    rec = data["recommendations"][0]
    for role in ("prefill", "decode"):
        assert set(DEGREES) <= set(rec[role])
    coefficients = data["assumptions"]["load"]["disaggregated"]["coefficients"]
    assert any(c["attention_data_parallel_size"] > 1 for c in coefficients)
    assert any(c["expert_parallel_size"] > 1 for c in coefficients)


def _pool_commands(fmt: str, engine: str) -> dict[str, list[str]]:
    run = autotune(*BASE, "--engine", engine, "--emit", fmt)
    assert run.code == 0, run.stderr
    text = run.stdout[run.stdout.index("settings for #1"):]
    out, role = {}, None
    for line in text.splitlines():
        if line.startswith("# prefill pool") or line.startswith("# decode pool"):
            role = line.split()[1]
            out[role] = []
        elif role is not None:
            out[role].append(line)
    return {role: shlex.split("\n".join(lines), comments=True) for role, lines in out.items()}


def _flag(words: list[str], flag: str) -> str | None:
    return words[words.index(flag) + 1] if flag in words else None


def test_each_pools_command_runs_what_was_simulated():
    """vLLM: an attention-DP pool is TP / ADP x data parallel ADP, each engine core with the flags (the replica's
    limits over ADP); SGLang: --enable-dp-attention --dp-size ADP with the replica's limits."""
    rec = _recommend("--engine", "vllm")["recommendations"][0]
    words = _pool_commands("vllm", "vllm")
    for role in ("prefill", "decode"):
        pool, cmd = rec[role], words[role]
        adp = pool["attention_data_parallel_size"]
        assert int(_flag(cmd, "--tensor-parallel-size")) == pool["tensor_parallel_size"] // adp
        assert int(_flag(cmd, "--data-parallel-size")) == adp
        assert int(_flag(cmd, "--max-num-seqs")) * adp == pool["max_num_seqs"]
        assert int(_flag(cmd, "--max-num-batched-tokens")) * adp == pool["max_num_batched_tokens"]
        assert ("--enable-expert-parallel" in cmd) == (pool["expert_parallel_size"] > 1)
    rec = _recommend("--engine", "sglang")["recommendations"][0]
    words = _pool_commands("sglang", "sglang")
    for role in ("prefill", "decode"):
        pool, cmd = rec[role], words[role]
        assert int(_flag(cmd, "--tp-size")) == pool["tensor_parallel_size"]
        assert ("--enable-dp-attention" in cmd) == (pool["attention_data_parallel_size"] > 1)
        if pool["max_num_batched_tokens"]:
            assert int(_flag(cmd, "--chunked-prefill-size")) == pool["max_num_batched_tokens"]


def test_simulate_takes_each_pools_degrees():
    rec = _recommend()["recommendations"][0]
    pools = []
    for role in ("prefill", "decode"):
        pool = rec[role]
        pools += [f"--{role}-tp", str(pool["tensor_parallel_size"]),
                  f"--{role}-pp", str(pool["pipeline_parallel_size"]),
                  f"--{role}-ep", str(pool["expert_parallel_size"]), f"--{role}-adp",
                  str(pool["attention_data_parallel_size"]), f"--{role}-replicas", str(pool["replicas"])]
    run = autotune("simulate", "--model", "qwen3-30b-a3b", "--hardware", "h100-sxm", "--input-len", "2000",
                   "--output-len", "200", "--rate", "8", "--requests", "300", "--mode", "disagg", *pools, "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    for role in ("prefill", "decode"):
        assert {k: data[role][k] for k in DEGREES} == {k: rec[role][k] for k in DEGREES}
        assert data[role]["max_num_seqs"] == rec[role]["max_num_seqs"]


@pytest.mark.parametrize("flags, words", [
    (("--prefill-adp", "3"), "--prefill-adp: got 3; expected a positive integer that divides tp (2)"),
    (("--decode-ep", "4"), "--decode-ep: got 4; expected a positive integer that divides tp (2)"),
    (("--decode-ep", "2", "--model", "llama-3.1-8b"), "--decode-ep: got 2; expected 1 for a model without routed"),
    (("--adp", "2"), "--adp: got 2; expected 1 with --mode disagg: give each pool's --prefill-adp and --decode-adp"),
])
def test_bad_pool_degrees_name_the_pools_flag(flags, words):
    run = autotune("simulate", "--model", "qwen3-30b-a3b", "--hardware", "h100-sxm", "--mode", "disagg",
                   "--prefill-tp", "2", "--prefill-replicas", "1", "--decode-tp", "2", "--decode-replicas", "1",
                   "--rate", "2", "--requests", "50", *flags)
    assert run.code == 2 and run.stdout == ""
    assert run.stderr.strip().splitlines() == [f"autotune simulate: error: {words}"] or (
        len(run.stderr.strip().splitlines()) == 1 and words in run.stderr)


@pytest.mark.parametrize("fmt, engine", [("vllm", "vllm"), ("sglang", "sglang"), ("trtllm", "tensorrt-llm")])
def test_moe_pool_commands_use_only_the_engines_real_flags(fmt, engine):
    """Every flag of both pools' servers is in the engine's argument list (the MoE degree flags: the cited sets
    of tests/unit/test_moe_degrees.py; the disaggregation flags: autotune/outputs/emit/disagg.py's)."""
    from autotune.outputs.emit import disagg as emit_disagg
    from tests.unit.test_moe_degrees import MOE_FLAGS

    allowed = set(MOE_FLAGS[fmt][1]) | {
        "vllm": set(emit_disagg.VLLM_DISAGG_FLAGS),
        "sglang": set(emit_disagg.SGLANG_DISAGG_FLAGS) | set(emit_disagg.SGLANG_ROUTER_FLAGS),
        "trtllm": set(emit_disagg.TRTLLM_DISAGG_FLAGS)}[fmt]
    run = autotune(*BASE, "--engine", engine, "--emit", fmt)
    assert run.code == 0, run.stderr
    text = run.stdout.split("settings for #1")[1]
    flags = {w for w in shlex.split(text, comments=True) if w.startswith("-") and w not in ("-", "-m")}
    assert flags and flags <= allowed, flags - allowed
    if fmt == "trtllm":  # the attention-DP pool's options file turns it on
        assert "enable_attention_dp: true" in text
