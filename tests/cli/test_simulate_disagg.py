"""`autotune simulate --mode disagg` through the real entry point: JSON keys, text report, refusals."""
from __future__ import annotations

from tests.cli.solver_cli import autotune
from tests.cli.test_simulate_cli import KEYS

POOL_KEYS = {"role", "tensor_parallel_size", "pipeline_parallel_size", "expert_parallel_size",
             "attention_data_parallel_size", "replicas", "devices", "busy_fraction", "peak_kv_fraction", "preemptions",
             "max_num_seqs", "max_num_batched_tokens"}
BASE = ("simulate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--requests", "300", "--input-len", "1024",
        "--output-len", "64")
POOLS = ("--mode", "disagg", "--prefill-tp", "1", "--prefill-replicas", "2", "--decode-tp", "2",
         "--decode-replicas", "1")


def test_disagg_json_has_mode_pools_and_transfer():
    run = autotune(*BASE, *POOLS, "--rate", "2", "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    assert set(data) == KEYS | {"mode", "prefill", "decode", "kv_transfer_ms", "kv_link"}
    assert data["mode"] == "disagg" and data["replicas"] == 3
    assert set(data["prefill"]) == POOL_KEYS and set(data["decode"]) == POOL_KEYS
    assert (data["prefill"]["tensor_parallel_size"], data["prefill"]["pipeline_parallel_size"],
            data["prefill"]["replicas"]) == (1, 1, 2)
    assert (data["decode"]["tensor_parallel_size"], data["decode"]["replicas"]) == (2, 1)
    assert set(data["kv_transfer_ms"]) == {"p50", "p90", "p99", "mean"}
    # 1,024 tokens x 131,072 bytes (Llama-3.1-8B bf16) over one NVLink stream (450e9 B/s) + 0.6 us.
    assert abs(data["kv_transfer_ms"]["mean"] - (1024 * 131072 / 450e9 + 0.6e-6) * 1e3) < 1e-3
    assert "NVLink" in data["kv_link"]


def test_disagg_text_report_and_aggregated_json_unchanged():
    run = autotune(*BASE, *POOLS, "--rate", "2")
    assert run.code == 0, run.stderr
    assert "2 prefill replica(s) (TP 1, PP 1) + 1 decode replica(s) (TP 2, PP 1)" in run.stdout
    assert "KV transfer" in run.stdout and "decode pool:" in run.stdout
    agg = autotune(*BASE, "--tp", "1", "--rate", "2", "--json")
    assert agg.code == 0 and set(agg.json()) == KEYS


def test_disagg_bad_input_is_one_line_exit_2():
    for args in ([*POOLS, "--concurrency", "4"],  # closed loop
                 [*POOLS, "--rate", "1", "--tp", "2"],  # aggregated degree in disaggregated mode
                 ["--mode", "disagg", "--prefill-tp", "1", "--decode-tp", "1", "--decode-replicas", "1",
                  "--rate", "1"],  # a pool without replicas
                 ["--prefill-tp", "1", "--rate", "1"],  # a pool in aggregated mode
                 ["--mode", "both", "--rate", "1"],
                 [*POOLS, "--rate", "1", "--decode-pp", "0"]):
        run = autotune(*BASE, *args)
        assert run.code == 2, (args, run.stdout, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_furiosa_release_without_disaggregation_exit_2():
    run = autotune("simulate", "--model", "llama-3.1-8b", "--hardware", "rngd", "--mode", "disagg",
                   "--prefill-tp", "8", "--prefill-replicas", "1", "--decode-tp", "8", "--decode-replicas", "1",
                   "--rate", "1", "--requests", "100")
    assert run.code == 2
    assert "--release" in run.stderr and "2026.4" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_pool_that_does_not_fit_exit_1():
    run = autotune("simulate", "--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--mode", "disagg",
                   "--prefill-tp", "4", "--prefill-replicas", "1", "--decode-tp", "1", "--decode-replicas", "1",
                   "--rate", "1", "--requests", "100")
    assert run.code == 1
    assert "decode replica (TP 1, PP 1)" in run.stderr and len(run.stderr.strip().splitlines()) == 1
