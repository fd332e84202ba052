"""`recommend --mode agg|disagg|both` and `--emit` of a disaggregated answer, through the real entry point."""
from __future__ import annotations

import re
import shlex

import pytest

from autotune.outputs.emit import disagg as emit_disagg
from tests.cli.solver_cli import autotune

BASE = ("recommend", "--model", "llama-3.1-8b", "--hardware", "l40s", "--cards", "4", "--input-len", "2000",
        "--output-len", "100", "--ttft-ms", "1500", "--tpot-ms", "40", "--requests", "200")
#: Flags of the engines' own parsers (module notes of autotune/outputs/emit/disagg.py and gpu.py cite where).
VLLM_FLAGS = {"--tensor-parallel-size", "--pipeline-parallel-size", "--data-parallel-size", "--max-num-seqs",
              "--max-num-batched-tokens", "--max-model-len", "--dtype", "--quantization", "--kv-cache-dtype",
              *emit_disagg.VLLM_DISAGG_FLAGS}
SGLANG_FLAGS = {"--model-path", "--tp-size", "--pp-size", "--dp-size", "--max-running-requests",
                "--chunked-prefill-size", "--context-length", "--dtype", "--quantization", "--kv-cache-dtype",
                *emit_disagg.SGLANG_DISAGG_FLAGS, *emit_disagg.SGLANG_ROUTER_FLAGS}
TRTLLM_FLAGS = {"--backend", "--tp_size", "--pp_size", "--max_batch_size", "--max_num_tokens", "--max_seq_len",
                *emit_disagg.TRTLLM_DISAGG_FLAGS}


def test_both_json_says_which_mode_wins_and_each_answer_has_a_mode():
    run = autotune(*BASE, "--rate", "6", "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    modes = data["modes"]
    assert modes["winner"] in ("agg", "disagg") and modes["agg"]["devices"] and modes["disagg"]["devices"]
    assert isinstance(modes["ratio"], float) and modes["ratio"] >= 1.0
    for rec in data["recommendations"]:
        assert rec["mode"] in ("agg", "disagg")
    assert data["assumptions"]["load"]["mode"] == "both"


def test_disagg_json_has_pools_and_kv_transfer():
    run = autotune(*BASE, "--rate", "6", "--mode", "disagg", "--json")
    assert run.code == 0, run.stderr
    rec = run.json()["recommendations"][0]
    assert rec["mode"] == "disagg"
    for role in ("prefill", "decode"):
        pool = rec[role]
        assert {"tensor_parallel_size", "pipeline_parallel_size", "replicas", "devices"} <= set(pool)
        assert pool["role"] == role
    assert rec["prefill"]["devices"] + rec["decode"]["devices"] == rec["cards_used"] <= 4
    assert set(rec["kv_transfer_ms"]) == {"p50", "p90", "p99", "mean"}


def test_text_report_has_the_comparison_line():
    run = autotune(*BASE, "--rate", "6")
    assert run.code == 0, run.stderr
    text = run.stdout.replace("\n  ", " ")  # report lines wrap at 100 columns
    assert "mode: " in text and ("wins at 6 requests/s within the same SLOs" in text
                                 or "tie at 6 requests/s within the same SLOs" in text)


def test_status_line_counts_what_each_mode_searched():
    """--mode disagg runs no aggregated search: the status line counts the deployments the disaggregated search
    simulated, and the load line its pool layouts and runs (a new user read '0 of 4 layouts simulated')."""
    run = autotune(*BASE, "--rate", "6", "--mode", "disagg", "--json")
    assert run.code == 0, run.stderr
    load = run.json()["assumptions"]["load"]
    disagg = load["disaggregated"]
    assert load["layouts_simulated"] == disagg["pool_layouts_priced"] > 0
    assert load["simulations"] == disagg["simulations"] > 0
    text = autotune(*BASE, "--rate", "6", "--mode", "disagg").stdout.replace("\n  ", " ")
    # One deployment here, in the singular (a new user read '1 deployments simulated whole').
    assert (disagg["deployments_verified"], disagg["deployments_feasible"]) == (1, 1)
    assert (f"disaggregated: 1 deployment simulated whole (feasible), after {disagg['cp_sat_solves']} CP-SAT "
            "solves") in text
    assert "layouts simulated:" not in text.splitlines()[0]
    both = autotune(*BASE, "--rate", "6").stdout.replace("\n  ", " ").splitlines()[0]
    assert "aggregated: " in both and "layouts simulated: " in both and "disaggregated: " in both


@pytest.mark.parametrize("args, flag, words", [
    (("--mode", "disagg"), "--mode", "--rate"),                                      # static: needs a rate
    (("--concurrency", "8", "--mode", "both"), "--mode", "--rate"),                # closed loop
    (("--rate", "2", "--mode", "sideways"), "--mode", "agg, disagg, both"),
    (("--rate", "2", "--mode", "disagg", "--objective", "latency"), "--objective", "throughput, goodput"),
])
def test_bad_mode_is_one_line_exit_2(args, flag, words):
    base = BASE if "--rate" in args or "--concurrency" in args else BASE[:-2]  # no --requests without traffic
    run = autotune(*base, *args)
    assert run.code == 2
    assert flag in run.stderr and words in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_disagg_on_a_release_without_it_is_exit_2_and_default_is_agg():
    rngd = ("recommend", "--model", "llama-3.1-8b", "--hardware", "rngd", "--cards", "2", "--space",
            "furiosa-2026.3", "--input-len", "1000", "--output-len", "100", "--requests", "100", "--rate", "0.5")
    run = autotune(*rngd, "--mode", "disagg")
    assert run.code == 2 and "--mode" in run.stderr and "2026.4" in run.stderr
    default = autotune(*rngd, "--json")
    assert default.code == 0, default.stderr
    data = default.json()
    assert "modes" not in data and data["recommendations"][0]["mode"] == "agg"


@pytest.mark.parametrize("fmt, allowed", [("vllm", VLLM_FLAGS), ("sglang", SGLANG_FLAGS), ("trtllm", TRTLLM_FLAGS)])
def test_emit_per_pool_with_role_and_real_flags(fmt, allowed):
    run = autotune(*BASE, "--rate", "6", "--mode", "disagg", "--emit", fmt)
    assert run.code == 0, run.stderr
    text = run.stdout.split("settings for #1")[1]
    flags = {w for w in shlex.split(text, comments=True) if w.startswith("-") and w not in ("-", "-m")}  # -m: python -m
    assert flags and flags <= allowed, flags - allowed
    if fmt == "vllm":
        assert '"kv_connector":"NixlConnector"' in text and '"kv_role":"kv_both"' in text
    if fmt == "sglang":
        assert "--disaggregation-mode prefill" in text and "--disaggregation-mode decode" in text
    if fmt == "trtllm":
        assert "context_servers:" in text and "generation_servers:" in text and "cache_transceiver_config:" in text
        assert "trtllm-serve disaggregated" in text


def test_emit_furiosa_per_pool():
    run = autotune("recommend", "--model", "llama-3.1-8b", "--hardware", "rngd", "--cards", "4", "--space",
                   "furiosa-2026.4", "--input-len", "2000", "--output-len", "100", "--ttft-ms", "1500",
                   "--tpot-ms", "60", "--requests", "200", "--rate", "2", "--mode", "disagg", "--emit", "furiosa")
    assert run.code == 0, run.stderr
    assert "===== prefill pool =====" in run.stdout and "===== decode pool =====" in run.stdout
    assert emit_disagg.FURIOSA_UNDOCUMENTED_FLAG in run.stdout and "not documented" in run.stdout
    # The pools share the machine: the decode pool's cards follow the prefill pool's, none used twice.
    prefill_text, decode_text = run.stdout.split("===== decode pool =====")
    cards = [set(re.findall(r"npu:(\d+):", part.split("(c) serve")[1].split("(c) or load")[0]))
             for part in (prefill_text, decode_text)]
    assert cards[0] and cards[1] and not cards[0] & cards[1]


LOAD = ("--model", "llama-3.1-8b", "--hardware", "l40s", "--input-len", "2000", "--output-len", "100",
        "--ttft-ms", "1500", "--tpot-ms", "40", "--requests", "200", "--rate", "6")


def test_plan_both_says_which_mode_serves_the_rate_on_fewer_devices():
    run = autotune("plan", *LOAD, "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    modes, d = data["modes"], data["disaggregated"]
    assert modes["mode"] == "both" and modes["winner"] in ("agg", "disagg")
    winner_devices = modes[modes["winner"]]["devices"]
    assert winner_devices == min(m["devices"] for m in (modes["agg"], modes["disagg"]) if m["devices"])
    if d.get("prefill"):
        assert d["mode"] == "disagg" and d["prefill"]["devices"] + d["decode"]["devices"] == d["cards_used"]
    text = autotune("plan", *LOAD)
    assert text.code == 0 and "mode: " in text.stdout


def test_plan_mode_with_cards_is_exit_2():
    run = autotune("plan", "--model", "llama-3.1-8b", "--hardware", "l40s", "--cards", "2", "--mode", "disagg")
    assert run.code == 2 and "--mode" in run.stderr and "--rate" in run.stderr


def test_pareto_disagg_points_carry_their_pools():
    run = autotune("pareto", *LOAD, "--cards", "4", "--mode", "disagg", "--axes", "user-card", "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    assert data["points"] and all(p["mode"] == "disagg" and "prefill" in p and "decode" in p for p in data["points"])
    assert data["assumptions"]["load"]["mode"] == "disagg"


def test_sweep_points_say_their_mode():
    run = autotune("sweep", *LOAD, "--cards", "4", "--mode", "both", "--json")
    assert run.code == 0, run.stderr
    point = run.json()["points"][0]
    assert point["recommendation"]["mode"] in ("agg", "disagg")
