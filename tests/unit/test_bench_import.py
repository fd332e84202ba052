"""cost_models.bench_import: each tool's result file read into rows, flags joined, contradictions refused.

The fixtures in tests/fixtures/bench are written by hand with each tool's key names (its README and the
reader modules cite the tools' source files and commits).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from autotune.errors import InputError
from autotune.specs.hardware_loader import load_hardware
from cost_models.bench_import import COLUMNS, BenchFlags, csv_text, import_files
from cost_models.bench_import.detect import detect, parse, read_runs
from cost_models.bench_import.runs import Stat
from cost_models.measurements import read_measurements

BENCH = Path(__file__).resolve().parents[1] / "fixtures" / "bench"
CALIBRATION = Path(__file__).resolve().parents[2] / "cost_models" / "data" / "calibration.csv"


def flags(**overrides) -> BenchFlags:
    values = dict(hardware=load_hardware("h100-sxm"), tp=1, dtype="bf16", engine="vLLM 0.11.0")
    values.update(overrides)
    return BenchFlags(**values)


def rows_of(name: str, **overrides) -> list[dict[str, str]]:
    return list(import_files([BENCH / name], flags(**overrides)).rows)


def test_columns_start_with_the_calibration_files_header():
    header = CALIBRATION.read_text().splitlines()[0].split(",")
    assert list(COLUMNS[:len(header)]) == header


@pytest.mark.parametrize("name, expected", [
    ("vllm_rngd_qwen3_4b_c32.json", "vllm"), ("vllm_append_llama31_8b.jsonl", "vllm"),
    ("guidellm_llama31_8b.json", "guidellm"), ("aiperf_qwen3_8b_c8.json", "aiperf"),
    ("genai_perf_llama31_8b_c10.json", "genai-perf"), ("trtllm_bench_llama31_70b_fp8.json", "trtllm-bench"),
    ("not_a_result.json", None)])
def test_detect_names_the_tool(name, expected):
    assert detect(parse(BENCH / name)) == expected


def test_vllm_closed_loop_row():
    row, = rows_of("vllm_rngd_qwen3_4b_c32.json", hardware=load_hardware("rngd"), tp=8, dtype="fp8",
                   engine="furiosa-llm 2026.3.0", base_model="Qwen/Qwen3-4B", input_len=512, output_len=128)
    assert row["load_type"] == "online_fixed_concurrency" and row["batch_or_concurrency"] == "32"
    assert row["model_id"] == "Qwen/Qwen3-4B" and row["model"] == "furiosa-ai/Qwen3-4B-FP8"
    assert (row["input_len"], row["output_len"], row["lengths"]) == ("512", "128", "")
    # output_throughput, mean_ttft_ms and mean_tpot_ms of the file; one RNGD card holds TP 8 (8 PEs).
    assert (row["throughput_output_tok_s_total"], row["ttft_ms"], row["tpot_or_itl_ms"]) == ("1149.01", "132.823",
                                                                                            "26.7786")
    assert row["num_devices"] == "1" and row["hardware_id"] == "rngd"
    assert row["source"].endswith("vllm_rngd_qwen3_4b_c32.json") and "vllm bench serve" in row["note"]


def test_vllm_without_per_request_lengths_keeps_the_means_marked():
    row, = rows_of("vllm_rngd_qwen3_4b_c32.json", base_model="Qwen/Qwen3-4B")
    # total_input_tokens / completed = 327680 / 640; whether every prompt had 512 tokens the file does not say.
    assert (row["input_len"], row["output_len"], row["lengths"]) == ("512", "128", "mean")
    assert "means" in row["note"]


def test_vllm_mean_far_from_the_stated_length_is_refused():
    with pytest.raises(InputError, match=r"mean input length.*within 2% of --input-len 1024"):
        rows_of("vllm_rngd_qwen3_4b_c32.json", base_model="Qwen/Qwen3-4B", input_len=1024)


def test_vllm_per_request_lengths_decide(tmp_path):
    data = json.loads((BENCH / "vllm_rngd_qwen3_4b_c32.json").read_text())
    data["input_lens"] = [500, 512, 524]
    data["output_lens"] = [128, 128, 128]
    path = tmp_path / "detailed.json"
    path.write_text(json.dumps(data))
    _, runs, _ = read_runs(path)
    assert runs[0].input_tokens == Stat(mean=512.0, minimum=500.0, maximum=524.0, p50=512.0, p99=523.76)
    assert runs[0].output_tokens.fixed is True
    with pytest.raises(InputError, match="the file's requests varied"):
        import_files([path], flags(base_model="Qwen/Qwen3-4B", input_len=512))


def test_vllm_append_lines_rate_row_and_skipped_capped_rate():
    result = import_files([BENCH / "vllm_append_llama31_8b.jsonl"], flags())
    row, = result.rows
    assert row["load_type"] == "online_request_rate" and row["request_rate_per_s"] == "4"
    assert row["source"].endswith("(line 1)")
    skipped, = result.skipped
    assert skipped.part == "line 2" and "max_concurrency 16" in skipped.reason


def test_guidellm_sweep_rows():
    result = import_files([BENCH / "guidellm_llama31_8b.json"], flags())
    concurrent, poisson = result.rows
    assert (concurrent["load_type"], concurrent["batch_or_concurrency"]) == ("online_fixed_concurrency", "16")
    # Every prompt 1024 and output 256 tokens (min == max): fixed lengths; TPOT is inter_token_latency_ms.
    assert (concurrent["input_len"], concurrent["output_len"], concurrent["lengths"]) == ("1024", "256", "")
    assert (concurrent["tpot_or_itl_ms"], concurrent["e2e_latency_s"]) == ("12", "3.1")
    assert poisson["load_type"] == "online_request_rate" and poisson["request_rate_per_s"] == "3.5"
    assert (poisson["input_len"], poisson["lengths"]) == ("800.5", "mean")
    assert "p99 1990" in poisson["note"]
    assert [s.part for s in result.skipped] == ["benchmarks[1]"] and "constant-rate" in result.skipped[0].reason


def test_aiperf_and_genai_perf_rows():
    aiperf, = rows_of("aiperf_qwen3_8b_c8.json")
    assert (aiperf["model_id"], aiperf["batch_or_concurrency"], aiperf["input_len"]) == ("Qwen/Qwen3-8B", "8", "2048")
    assert (aiperf["ttft_ms"], aiperf["tpot_or_itl_ms"], aiperf["e2e_latency_s"]) == ("95", "15.5", "2.1")
    assert aiperf["framework"] == "vLLM 0.11.0"
    genai, = rows_of("genai_perf_llama31_8b_c10.json")
    # genai-perf rows are measured in its windows: the framework names the tool (serving/validation.measure_of).
    assert genai["framework"] == "vLLM 0.11.0, genai-perf" and genai["batch_or_concurrency"] == "10"


def test_trtllm_bench_states_layout_and_format():
    row, = rows_of("trtllm_bench_llama31_70b_fp8.json", tp=None, dtype=None, engine=None)
    assert (row["tensor_parallel"], row["dtype"], row["kv_cache_dtype"]) == ("4", "fp8", "fp8")
    assert row["framework"] == "TensorRT-LLM 0.21.0" and row["hardware"] == "NVIDIA H100 80GB HBM3"
    assert row["load_type"] == "offline_max_throughput"
    assert "max_num_seqs 2048 max_num_tokens 8192" in row["batch_or_concurrency"]
    closed, = rows_of("trtllm_bench_llama31_70b_fp8.json", tp=None, dtype=None, engine=None, concurrency=64)
    assert (closed["load_type"], closed["batch_or_concurrency"]) == ("online_fixed_concurrency", "64")


@pytest.mark.parametrize("overrides, message", [
    (dict(tp=8), r"field 'tp': got 4; expected the value --tp gives \(8\)"),
    (dict(dtype="bf16"), r"field 'dtype': got 'fp8'; expected the value --dtype gives \(bf16\)"),
    (dict(engine="vLLM 0.11.0"), r"field 'engine'"),
    (dict(model="meta-llama/Llama-3.1-8B"), r"field 'model': got 'meta-llama/Llama-3.1-70B'"),
])
def test_a_flag_contradicting_the_file_is_refused(overrides, message):
    values = dict(tp=None, dtype=None, engine=None) | overrides
    with pytest.raises(InputError, match=message):
        rows_of("trtllm_bench_llama31_70b_fp8.json", **values)


def test_concurrency_flag_contradicting_the_file_is_refused():
    with pytest.raises(InputError, match=r"field 'concurrency': got 8; expected the value --concurrency gives \(4\)"):
        rows_of("aiperf_qwen3_8b_c8.json", concurrency=4)


@pytest.mark.parametrize("overrides, flag", [(dict(tp=None), "--tp"), (dict(dtype=None), "--dtype"),
                                             (dict(engine=None), "--engine")])
def test_what_the_file_lacks_must_come_from_a_flag(overrides, flag):
    with pytest.raises(InputError, match=f"^{flag}; expected"):
        rows_of("aiperf_qwen3_8b_c8.json", **overrides)


def test_a_file_without_its_load_needs_the_load_flag(tmp_path):
    data = json.loads((BENCH / "aiperf_qwen3_8b_c8.json").read_text())
    del data["input_config"]["loadgen"]
    path = tmp_path / "profile_export_aiperf.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="--concurrency N or --request-rate R"):
        import_files([path], flags())
    row, = import_files([path], flags(request_rate_per_s=2.0)).rows
    assert (row["load_type"], row["request_rate_per_s"]) == ("online_request_rate", "2")


@pytest.mark.parametrize("name, format, message", [
    ("not_json.json", None, "a JSON result file"),
    ("not_a_result.json", None, r"a result file of vllm bench serve.*top-level keys: model, results"),
    ("trtllm_bench_llama31_70b_fp8.json", "vllm", r"got 'trtllm-bench --report_json'; expected a vllm bench serve"),
    ("vllm_bad_throughput.json", None, r"field 'output_throughput': got 'n/a'; expected a finite number"),
])
def test_bad_files_are_one_input_error(name, format, message):
    with pytest.raises(InputError, match=message):
        import_files([BENCH / name], flags(), format=format)


def test_a_file_with_no_usable_run_is_bad_input(tmp_path):
    path = tmp_path / "ramp.json"
    data = json.loads((BENCH / "vllm_rngd_qwen3_4b_c32.json").read_text()) | {"ramp_up_strategy": "linear"}
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="request rate ramp"):
        import_files([path], flags())


def test_round_trip_through_the_measurement_reader(tmp_path):
    files = [BENCH / "guidellm_llama31_8b.json", BENCH / "aiperf_qwen3_8b_c8.json"]
    result = import_files(files, flags())
    path = tmp_path / "out.csv"
    path.write_text(csv_text(result.rows))
    used, skipped = read_measurements(path)
    assert sorted(r.row_id for r in used) == ["aiperf_qwen3_8b_c8-1", "guidellm_llama31_8b-1"]
    assert [(s.row_id, s.reason.split(":")[0]) for s in skipped] == [("guidellm_llama31_8b-2", "variable lengths")]
    by_id = {r.row_id: r for r in used}
    assert by_id["guidellm_llama31_8b-1"].batch == 16 and by_id["guidellm_llama31_8b-1"].input_len == 1024
    assert by_id["aiperf_qwen3_8b_c8-1"].tpot_s == pytest.approx(0.0155)
    assert list(csv.DictReader(io.StringIO(csv_text(result.rows))).fieldnames) == list(COLUMNS)


def test_output_is_deterministic():
    files = [BENCH / "guidellm_llama31_8b.json", BENCH / "vllm_append_llama31_8b.jsonl"]
    assert csv_text(import_files(files, flags()).rows) == csv_text(import_files(files, flags()).rows)


def test_row_ids_stay_unique_across_files_of_one_name(tmp_path):
    (tmp_path / "a").mkdir()
    copy = tmp_path / "a" / "aiperf_qwen3_8b_c8.json"
    copy.write_text((BENCH / "aiperf_qwen3_8b_c8.json").read_text())
    rows = import_files([BENCH / "aiperf_qwen3_8b_c8.json", copy], flags()).rows
    assert [r["row_id"] for r in rows] == ["aiperf_qwen3_8b_c8-1", "aiperf_qwen3_8b_c8-1.2"]


def test_integer_mean_lengths_marked_mean_are_skipped_by_the_reader(tmp_path):
    # 512 and 128 read as integers: only the lengths column tells the reader they are means.
    rows = import_files([BENCH / "vllm_rngd_qwen3_4b_c32.json"], flags(base_model="Qwen/Qwen3-4B")).rows
    path = tmp_path / "out.csv"
    path.write_text(csv_text(rows))
    used, skipped = read_measurements(path)
    assert used == [] and skipped[0].reason.startswith("variable lengths: input_len/output_len are means")
