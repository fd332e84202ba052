"""`autotune simulate` through the real entry point: JSON keys, text report, bad input."""
from __future__ import annotations

from tests.cli.solver_cli import autotune

KEYS = {"engine", "release", "replicas", "traffic", "max_num_seqs", "max_num_batched_tokens", "requests",
        "overloaded", "ttft_ms", "tpot_ms", "itl_ms", "e2e_latency_ms", "queueing_ms", "output_tokens_per_s",
        "requests_per_s", "goodput_requests_per_s", "peak_kv_fraction", "peak_kv_tokens", "preemptions",
        "simulated_s", "steps", "notes"}


def test_simulate_json_has_the_results_of_section_1():
    run = autotune("simulate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--tp", "1", "--concurrency",
                   "16", "--requests", "200", "--input-len", "1000", "--output-len", "100", "--ttft-ms", "500",
                   "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    assert set(data) == KEYS
    for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_latency_ms", "queueing_ms"):
        assert set(data[key]) == {"p50", "p90", "p99", "mean"}
        assert data[key]["p50"] <= data[key]["p90"] <= data[key]["p99"]
    assert data["engine"] == "vllm" and data["overloaded"] is False


def test_simulate_rngd_default_engine_text_and_dp_split():
    run = autotune("simulate", "--model", "qwen3-4b", "--tp", "8", "--dp", "2", "--rate", "4", "--requests", "300",
                   "--dtype", "fp8", "--input-len", "512", "--output-len", "128")
    assert run.code == 0, run.stderr
    assert "furiosa-llm" in run.stdout and "TTFT" in run.stdout
    assert "split evenly over 2 replicas" in run.stdout


def test_simulate_bad_input_is_one_line_and_exit_2():
    for args in (["--rate", "0"], ["--rate", "1", "--concurrency", "2"], [], ["--concurrency", "x"],
                 ["--rate", "1", "--arrival", "gamma"], ["--rate", "1", "--engine", "nope"]):
        run = autotune("simulate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", *args)
        assert run.code == 2, (args, run.stdout)
        assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_simulate_layout_without_room_for_a_request_exits_1():
    run = autotune("simulate", "--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--tp", "1", "--concurrency", "4")
    assert run.code == 1
    assert "KV cache" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_simulate_workload_file_with_timestamps_is_a_trace(tmp_path):
    trace = tmp_path / "trace.jsonl"
    trace.write_text("".join(f'{{"timestamp_s": {0.2 * i}, "input_len": 300, "output_len": 30}}\n'
                             for i in range(50)))
    run = autotune("simulate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--workload", str(trace),
                   "--json")
    assert run.code == 0, run.stderr
    assert run.json()["traffic"] == "trace (50 requests)"


def test_simulate_prices_expert_and_attention_data_parallel():
    """--ep/--adp reach the simulator: DeepSeek-V3 at 256 clients serves more with attention DP 8 + EP 8 than with
    TP 8 (TensorRT-LLM's max-throughput DeepSeek-R1 recipes use DEP8); degrees that do not divide TP exit 2."""
    common = ("simulate", "--model", "deepseek-v3", "--hardware", "h200-sxm", "--dtype", "fp8", "--tp", "8",
              "--engine", "tensorrt-llm", "--concurrency", "256", "--requests", "768", "--input-len", "1024",
              "--output-len", "256", "--json")
    plain, dep = autotune(*common), autotune(*common, "--ep", "8", "--adp", "8")
    assert plain.code == 0 and dep.code == 0, (plain.stderr, dep.stderr)
    assert dep.json()["output_tokens_per_s"] > plain.json()["output_tokens_per_s"]
    bad = autotune(*common, "--ep", "3")
    assert bad.code == 2 and "--ep" in bad.stderr and "Traceback" not in bad.stderr


def test_simulate_takes_the_checkpoints_formats_and_the_emit_engine_names():
    # DeepSeek-V3 ships FP8: recommend and plan serve it so, and simulate does too (in bf16 it would not fit
    # TP 8 on H200: a new user's recommended layout failed to simulate). `--engine trtllm` is --emit's name for
    # tensorrt-llm; its flags are per attention-DP rank, which the report says.
    args = ("simulate", "--model", "deepseek-v3", "--hardware", "h200-sxm", "--tp", "8", "--ep", "8", "--adp", "8",
            "--rate", "1", "--requests", "60", "--input-len", "1000", "--output-len", "100")
    short = autotune(*args, "--engine", "trtllm", "--json")
    assert short.code == 0, short.stderr
    assert short.json() == autotune(*args, "--engine", "tensorrt-llm", "--dtype", "fp8", "--kv-dtype", "bf16",
                                    "--json").json()
    assert short.json()["engine"] == "tensorrt-llm"
    text = autotune(*args, "--engine", "trtllm").stdout.replace("\n", " ")
    assert ("the replica's max_num_seqs 16384 and max_num_batched_tokens 65536 are tensorrt-llm's flags 2048 and "
            "8192, per attention-DP rank") in text
    bad = autotune(*args, "--engine", "trt")
    assert bad.code == 2 and "(or trtllm, furiosa)" in bad.stderr
