"""`autotune import-bench` through the real entry point: import, then validate reads the rows; bad input exit 2."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "fixtures" / "bench"


def autotune(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotune", *args], capture_output=True, text=True, timeout=300)


def test_import_then_validate_reads_the_rows(tmp_path):
    out = tmp_path / "rngd.csv"
    imported = autotune("import-bench", str(BENCH / "vllm_rngd_qwen3_4b_c32.json"), "-o", str(out),
                        "--hardware", "rngd", "--tp", "8", "--dtype", "fp8", "--engine", "furiosa-llm 2026.3.0",
                        "--base-model", "Qwen/Qwen3-4B", "--input-len", "512", "--output-len", "128")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "" and "imported 1 rows from 1 files (vllm)" in imported.stderr
    rows = list(csv.DictReader(out.open()))
    assert [(r["row_id"], r["load_type"], r["batch_or_concurrency"]) for r in rows] == [
        ("vllm_rngd_qwen3_4b_c32-1", "online_fixed_concurrency", "32")]
    validated = autotune("validate", "--measurements", str(out), "--json")
    assert validated.returncode == 0, validated.stderr
    report = json.loads(validated.stdout)
    assert report["rows_used"] == 1 and report["rows_skipped"] == 0
    assert report["ttft"]["n"] == 1 and report["tpot"]["n"] == 1


def test_several_formats_in_one_command_and_skipped_points_on_stderr(tmp_path):
    out = tmp_path / "gpu.csv"
    result = autotune("import-bench", str(BENCH / "guidellm_llama31_8b.json"), str(BENCH / "aiperf_qwen3_8b_c8.json"),
                      str(BENCH / "genai_perf_llama31_8b_c10.json"), "-o", str(out), "--hardware", "h100-sxm",
                      "--tp", "1", "--dtype", "bf16", "--engine", "vLLM 0.11.0")
    assert result.returncode == 0, result.stderr
    assert "skipped " + str(BENCH / "guidellm_llama31_8b.json") + " (benchmarks[1]): constant-rate" in result.stderr
    assert "imported 4 rows from 3 files (aiperf, genai-perf, guidellm)" in result.stderr
    assert len(list(csv.DictReader(out.open()))) == 4


@pytest.mark.parametrize("extra, message", [
    ((str(BENCH / "not_json.json"),), "not_json.json; expected a JSON result file"),
    ((str(BENCH / "not_a_result.json"),), "expected a result file of vllm bench serve"),
    ((str(BENCH / "trtllm_bench_llama31_70b_fp8.json"), "--format", "guidellm"), "expected a GuideLLM report"),
    ((str(BENCH / "vllm_bad_throughput.json"),), "field 'output_throughput'"),
    ((str(BENCH / "aiperf_qwen3_8b_c8.json"), "--concurrency", "4"), "field 'concurrency': got 8"),
    ((str(BENCH / "aiperf_qwen3_8b_c8.json"), "--model", "Qwen/Qwen3-32B"), "field 'model': got 'Qwen/Qwen3-8B'"),
    ((str(BENCH / "missing.json"),), "missing.json; expected an existing file"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, extra, message):
    result = autotune("import-bench", *extra, "-o", str(tmp_path / "o.csv"), "--hardware", "h100-sxm", "--tp", "1",
                      "--dtype", "bf16", "--engine", "vLLM 0.11.0")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "o.csv").exists()


def test_output_may_not_be_an_input(tmp_path):
    source = tmp_path / "r.json"
    source.write_text((BENCH / "aiperf_qwen3_8b_c8.json").read_text())
    result = autotune("import-bench", str(source), "-o", str(source), "--hardware", "h100-sxm")
    assert result.returncode == 2 and "a file other than the result file" in result.stderr
