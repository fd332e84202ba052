"""`autotune plan` through the real entry point: JSON keys, text within 100 columns, exit codes."""
from __future__ import annotations

import importlib.util

import pytest

from tests.cli.solver_cli import autotune

SMALL = ("--model", "llama-3.2-1b", "--hardware", "rngd", "--input-len", "512", "--output-len", "64",
         "--ttft-ms", "500", "--tpot-ms", "30", "--requests", "200")
REC_KEYS = {"tensor_parallel_size", "pipeline_parallel_size", "replicas", "cards_used", "max_num_seqs",
            "rate_served", "ttft_ms", "tpot_ms", "e2e_latency_ms", "goodput_requests_per_s"}


def test_plan_json_has_the_issue_keys_and_a_checked_answer():
    run = autotune("plan", *SMALL, "--rate", "80", "--json")  # one replica serves about 47 requests/s
    assert run.code == 0, run.stderr
    data = run.json()
    assert {"status", "rate", "recommendations", "capacity", "assumptions"} <= set(data)
    assert data["status"] == "OPTIMAL" and data["rate"] == 80
    rec = data["recommendations"][0]
    assert REC_KEYS <= set(rec)
    for key in ("ttft_ms", "tpot_ms", "e2e_latency_ms"):
        assert set(rec[key]) == {"p50", "p90", "p99", "mean"}
    assert rec["tpot_ms"]["p90"] <= 30 and rec["ttft_ms"]["p90"] <= 500
    assert rec["rate_served"] >= 80 and rec["replicas"] >= 2
    assert rec["check"]["meets_slos"] and not rec["fewer_replicas_check"]["meets_slos"]
    assert all(set(p) >= {"cards", "rate_served"} for p in data["capacity"])
    assert data["assumptions"]["slo_percentile"] == 90 and data["assumptions"]["requests_per_simulation"] == 200


def test_plan_cards_text_fits_100_columns():
    run = autotune("plan", *SMALL, "--cards", "2")
    assert run.code == 0, run.stderr
    assert "Plan (OPTIMAL) to the most on 2 cards" in run.stdout
    assert "Capacity" in run.stdout and "one replica fewer" in run.stdout
    assert max(len(line) for line in run.stdout.splitlines()) <= 100


def test_plan_unreachable_slo_exits_1_with_the_reason():
    run = autotune("plan", "--model", "llama-3.2-1b", "--hardware", "rngd", "--input-len", "512", "--output-len", "64",
                   "--tpot-ms", "0.01", "--requests", "200", "--rate", "1")
    assert run.code == 1
    assert len(run.stderr.strip().splitlines()) == 1
    assert "no replica layout meets the SLOs at any rate" in run.stderr


def test_plan_bad_input_is_one_line_and_exit_2():
    for args in (["--rate", "1", "--cards", "2"], [], ["--rate", "x"], ["--rate", "1", "--slo-percentile", "95"],
                 ["--rate", "1", "--requests", "3"], ["--rate", "1", "--plot", "out.txt"]):
        run = autotune("plan", "--model", "llama-3.2-1b", *args)
        assert run.code == 2, (args, run.stdout)
        assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr, args


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib not installed")
def test_plan_plot_writes_the_capacity_plot(tmp_path):
    target = tmp_path / "capacity.svg"
    run = autotune("plan", *SMALL, "--cards", "2", "--plot", str(target))
    assert run.code == 0, run.stderr
    assert target.read_text().lstrip().startswith("<?xml")


def test_plan_on_gpus_counts_devices_and_checks_one_replica_fewer():
    run = autotune("plan", "--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--input-len", "1024",
                   "--output-len", "128", "--tpot-ms", "60", "--requests", "200", "--rate", "16", "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    rec = data["recommendations"][0]
    assert data["assumptions"]["device_name"] == "GPU" and data["assumptions"]["engine"] == "vllm"
    assert rec["replicas"] >= 2 and rec["rate_served"] >= 16
    assert rec["cards_used"] == rec["replicas"] * rec["tensor_parallel_size"] * rec["pipeline_parallel_size"]
    assert rec["check"]["meets_slos"] and not rec["fewer_replicas_check"]["meets_slos"]
    assert rec["tpot_ms"]["p90"] <= 60


def test_plan_says_rngd_is_fitted_on_its_own_measurements():
    run = autotune("plan", *SMALL, "--cards", "1", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["assumptions"]["calibration"]["hardware_fitted"] is True
