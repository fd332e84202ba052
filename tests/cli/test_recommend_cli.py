"""`autotune recommend` through the real entry point: JSON keys, exit codes, one-line errors."""
from __future__ import annotations

import pytest

from tests.cli.solver_cli import autotune

ESTIMATE_KEYS = {"feasible", "violations", "memory_per_device_bytes", "ttft_ms", "tpot_ms", "e2e_latency_ms",
                 "throughput_tokens_per_s", "throughput_tokens_per_s_per_device", "batch_size"}
PLAN_KEYS = {"tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "batch_size", "cards_used",
             "pes_used"}


def test_recommend_json_has_the_issue_keys_best_first():
    run = autotune("recommend", "--model", "llama-3.1-70b", "--hardware", "rngd", "--cards", "4",
                   "--space", "furiosa-2024.2", "--top", "3", "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["status"] == "OPTIMAL" and out["objective"] == "throughput"
    recs = out["recommendations"]
    assert 1 <= len(recs) <= 3
    for rec in recs:
        assert PLAN_KEYS | ESTIMATE_KEYS <= set(rec)
        assert set(rec["memory_per_device_bytes"]) == {"weights", "kv_cache", "activations", "reserved", "total",
                                                       "capacity"}
        assert rec["feasible"] is True and rec["violations"] == []
        assert rec["memory_per_device_bytes"]["total"] <= rec["memory_per_device_bytes"]["capacity"]
    throughputs = [r["throughput_tokens_per_s"] for r in recs]
    assert throughputs == sorted(throughputs, reverse=True)
    assert run.stderr == ""


def test_recommend_is_deterministic():
    args = ("recommend", "--model", "llama-3.1-8b", "--cards", "8", "--top", "4", "--json")
    assert autotune(*args).stdout == autotune(*args).stdout


def test_infeasible_exits_1_with_reasons_and_alternatives():
    run = autotune("recommend", "--model", "llama-3.1-70b", "--cards", "1", "--space", "furiosa-2024.2", "--json")
    assert run.code == 1
    out = run.json()
    assert out["status"] == "INFEASIBLE" and out["recommendations"] == []
    assert any("weights need 141.1 GB in bf16" in r and "48.0 GB" in r for r in out["reasons"])
    kinds = {a["kind"]: a for a in out["alternatives"]}
    assert kinds["cards"]["value"] > 1
    assert kinds["cards"]["recommendation"]["feasible"] is True
    assert len(run.stderr.strip().splitlines()) == 1


def test_human_report_states_status_assumptions_and_fits_100_columns():
    run = autotune("recommend", "--model", "llama-3.1-70b", "--cards", "8", "--top", "3")
    assert run.code == 0, run.stderr
    assert "status: OPTIMAL" in run.stdout
    assert "assumptions: llama-3.1-70b on 8 rngd cards" in run.stdout
    assert "TPOT ms" in run.stdout
    assert max(len(line) for line in run.stdout.splitlines()) <= 100


def test_gpu_devices_synonym_and_slo():
    run = autotune("recommend", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--devices", "4",
                   "--objective", "latency", "--tpot-ms", "50", "--json")
    assert run.code == 0, run.stderr
    best = run.json()["recommendations"][0]
    assert best["tpot_ms"] <= 50 and best["cards_used"] <= 4


@pytest.mark.parametrize("flag, value, needle", [
    ("--cards", "zero", "--cards"),
    ("--objective", "speed", "--objective"),
    ("--batch", "-3", "--batch"),
    ("--ttft-ms", "nan", "--ttft-ms"),
    ("--top", "0", "--top"),
    ("--space", "furiosa-1999.9", "space"),
    ("--dtype", "fp12", "--dtype"),
])
def test_bad_flags_are_one_line_exit_2(flag, value, needle):
    run = autotune("recommend", "--model", "llama-3.1-8b", flag, value)
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in run.stderr
