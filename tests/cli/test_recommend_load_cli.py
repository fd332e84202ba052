"""`autotune recommend --rate/--concurrency` through the real entry point: keys, SLO percentiles, exit codes."""
from __future__ import annotations

import pytest

from tests.cli.solver_cli import autotune

RNGD_70B = ("--model", "llama-3.1-70b", "--hardware", "rngd", "--cards", "8", "--input-len", "1000",
            "--output-len", "200", "--ttft-ms", "2000", "--tpot-ms", "100", "--requests", "300")


def test_goodput_under_a_rate_meets_the_slo_percentile_and_emits_the_limit():
    run = autotune("recommend", *RNGD_70B, "--rate", "0.5", "--objective", "goodput", "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    rec = data["recommendations"][0]
    serving = rec["serving"]
    assert serving["slo_percentile"] == 90
    assert rec["ttft_ms"] == serving["ttft_ms"]["p90"] <= 2000
    assert rec["tpot_ms"] == serving["tpot_ms"]["p90"] <= 100
    assert rec["batch_size"] == serving["max_num_seqs"] >= 1
    assert 0 < serving["goodput_requests_per_s"] <= 0.5
    assert data["assumptions"]["load"]["traffic"] == "Poisson arrivals at 0.5 requests/s"
    assert data["assumptions"]["load"]["engine"] == "furiosa-llm"


def test_same_input_same_bytes():
    args = ("recommend", *RNGD_70B, "--rate", "0.5", "--json", "--seed", "3")
    assert autotune(*args).stdout == autotune(*args).stdout


def test_closed_loop_on_a_gpu_reports_the_percentile_columns():
    run = autotune("recommend", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--cards", "2",
                   "--input-len", "1000", "--output-len", "100", "--concurrency", "16", "--tpot-ms", "30",
                   "--objective", "latency", "--requests", "200")
    assert run.code == 0, run.stderr
    assert "TPOT p90 ms" in run.stdout and "under load: closed loop, 16 clients" in run.stdout
    assert max(len(line) for line in run.stdout.splitlines()) <= 100


def test_infeasible_under_load_exits_1_with_a_reason_per_layout():
    run = autotune("recommend", *RNGD_70B[:-4], "--tpot-ms", "5", "--requests", "200", "--rate", "0.5")
    assert run.code == 1
    assert "TPOT p90" in run.stdout


@pytest.mark.parametrize("extra, flag", [
    (("--workload", "lengths.csv"), "--workload"),
    (("--objective", "goodput"), "--objective"),
    (("--rate", "1", "--concurrency", "4"), "--rate/--concurrency"),
    (("--rate", "1", "--slo-percentile", "95"), "--slo-percentile"),
    (("--rate", "1", "--batch", "8"), "--batch"),
])
def test_bad_traffic_input_is_one_line_exit_2(extra, flag):
    run = autotune("recommend", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", *extra)
    assert run.code == 2
    assert run.stderr.count("\n") == 1 and flag in run.stderr


def test_pareto_under_a_rate_is_non_dominated_and_meets_the_slo():
    run = autotune("pareto", *RNGD_70B[:-6], "--ttft-ms", "3000", "--requests", "300", "--rate", "0.3",
                   "--axes", "user-card", "--json")
    assert run.code == 0, run.stderr
    points = run.json()["points"]
    assert len(points) >= 2
    tpot = [p["tpot_ms"] for p in points]
    per_card = [p["throughput_tokens_per_s_per_device"] for p in points]
    assert tpot == sorted(tpot) and per_card == sorted(per_card) and len(set(per_card)) == len(per_card)
    assert all(p["ttft_ms"] <= 3000 for p in points)


def test_sweep_under_a_rate_answers_each_card_count_as_recommend_does():
    common = ("--model", "llama-3.1-70b", "--hardware", "rngd", "--input-len", "1000", "--output-len", "200",
              "--tpot-ms", "150", "--requests", "300", "--rate", "0.3", "--json")
    run = autotune("sweep", *common[:-1], "--cards", "2,4", "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    assert data["load"]["rate"] == 0.3 and data["load"]["slo_percentile"] == 90
    two, four = data["points"]
    assert two["status"] == "INFEASIBLE" and four["status"] == "OPTIMAL"
    alone = autotune("recommend", *common, "--cards", "4").json()["recommendations"][0]
    assert four["recommendation"]["tpot_ms"] == alone["tpot_ms"] <= 150
    assert four["recommendation"]["batch_size"] == alone["batch_size"]


def test_emit_simulates_the_engine_it_writes_for():
    args = ("recommend", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--cards", "1", "--input-len", "1000",
            "--output-len", "100", "--rate", "2", "--requests", "200", "--emit", "sglang", "--json")
    run = autotune(*args)
    assert run.code == 0, run.stderr
    data = run.json()
    assert data["assumptions"]["load"]["engine"] == "sglang"
    rec = data["recommendations"][0]
    budget = rec["serving"]["max_num_batched_tokens"]
    assert f"--chunked-prefill-size {budget}" in rec["settings"]["text"]
    assert f"--max-running-requests {rec['batch_size']}" in rec["settings"]["text"]
    clash = autotune(*args[:-1], "--engine", "vllm")
    assert clash.code == 2 and "--engine" in clash.stderr and "sglang" in clash.stderr
    assert len(clash.stderr.strip().splitlines()) == 1
