"""`autotune estimate` through the real entry point: JSON keys, exit codes, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

KEYS = {"feasible", "violations", "memory_per_device_bytes", "ttft_ms", "tpot_ms", "e2e_latency_ms",
        "throughput_tokens_per_s", "throughput_tokens_per_s_per_device", "batch_size"}
MEMORY_KEYS = {"weights", "kv_cache", "activations", "reserved", "total", "capacity"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotune", "estimate", *args], capture_output=True, text=True,
                          timeout=120)


def test_feasible_gpu_configuration_json():
    out = run("--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--tp", "4", "--input-len", "1000",
              "--output-len", "1000", "--dtype", "fp8", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert KEYS <= set(data)
    assert set(data["memory_per_device_bytes"]) == MEMORY_KEYS
    assert data["feasible"] is True and data["violations"] == []
    mem = data["memory_per_device_bytes"]
    assert mem["total"] <= mem["capacity"] == 81559 * 2**20  # H100 SXM usable (nvidia-smi, preset)
    assert mem["weights"] + mem["kv_cache"] + mem["activations"] + mem["reserved"] == \
        __import__("pytest").approx(mem["total"], abs=4)
    assert data["batch_size"] >= 1
    assert data["throughput_tokens_per_s_per_device"] * 4 == __import__("pytest").approx(
        data["throughput_tokens_per_s"], rel=1e-3)
    assert out.stderr == ""


def test_space_rule_violation_is_infeasible_with_exit_1():
    # furiosa-2024.2: TP x PP x DP must equal the PEs of the fleet (4 cards = 32 PEs).
    out = run("--model", "llama-3.1-8b", "--hardware", "rngd", "--tp", "4", "--pp", "2", "--dp", "2",
              "--cards", "4", "--space", "furiosa-2024.2", "--json")
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert data["feasible"] is False
    assert any("32 PEs" in v for v in data["violations"])
    assert len(out.stderr.strip().splitlines()) == 1


def test_batch_too_large_names_the_memory_limit():
    out = run("--model", "llama-3.1-70b", "--hardware", "rngd", "--tp", "32", "--batch", "100000",
              "--space", "furiosa-2025.3", "--json")
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert any(v.startswith("memory:") for v in data["violations"])
    assert data["batch_size"] == 100000
    assert data["throughput_tokens_per_s"] == 0       # nothing is served by a layout that does not fit


def test_batch_auto_is_the_largest_within_every_limit():
    out = run("--model", "llama-3.1-8b", "--hardware", "rngd", "--tp", "8", "--batch", "auto", "--json")
    data = json.loads(out.stdout)
    # furiosa-2026.4's decode buckets hold 2,560 tokens at batch 128 at most (furiosa-llm.md section 6 item 2).
    assert data["batch_size"] == data["largest_feasible_batch"] == min(data["max_batch"], 128) >= 1
    beyond = run("--model", "llama-3.1-8b", "--hardware", "rngd", "--tp", "8", "--batch",
                 str(data["largest_feasible_batch"] + 1), "--json")
    assert beyond.returncode == 1 and json.loads(beyond.stdout)["violations"]


def test_one_batch_vocabulary():
    out = run("--model", "llama-3.1-8b", "--hardware", "rngd", "--tp", "8", "--batch", "max")
    assert out.returncode == 2 and "--batch" in out.stderr and "'auto'" in out.stderr


def test_human_table_fits_100_columns():
    out = run("--model", "llama-3.1-8b", "--hardware", "rngd", "--tp", "8")
    assert out.returncode == 0, out.stderr
    assert "kv_cache" in out.stdout and "TPOT" in out.stdout
    assert max(len(line) for line in out.stdout.splitlines()) <= 100


def test_bad_input_is_one_line_exit_2():
    for args in (("--model", "llama-3.1-8b", "--tp", "abc"), ("--model", "no-such-model"),
                 ("--model", "llama-3.1-8b", "--dtype", "fp7")):
        out = run(*args)
        assert out.returncode == 2, args
        assert len(out.stderr.strip().splitlines()) == 1
        assert "Traceback" not in out.stderr
