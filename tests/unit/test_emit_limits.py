"""`--emit` engine limits: batch per replica and token budget per step, in each engine's own flag.

Flag names (the allow-lists below), each read from the engine's argument list:
- vLLM: docs.vllm.ai serving/engine_args (the `vllm serve` usage, generated from vllm/engine/arg_utils.py
  EngineArgs): --tensor-parallel-size, --pipeline-parallel-size, --data-parallel-size, --max-num-seqs,
  --max-num-batched-tokens, --max-model-len, --dtype, --quantization, --kv-cache-dtype.
- SGLang: python/sglang/srt/server_args.py ServerArgs (flag = field name with dashes) and
  docs.sglang.io advanced_features/server_arguments: --model-path, --tp-size, --pp-size, --dp-size,
  --max-running-requests, --chunked-prefill-size, --context-length, --dtype, --quantization, --kv-cache-dtype.
- TensorRT-LLM: tensorrt_llm/commands/serve.py click options of `trtllm-serve`: --backend, --tp_size,
  --pp_size, --max_batch_size, --max_num_tokens, --max_seq_len, --extra_llm_api_options, --port; the
  options file's keys are LLM API arguments (tensorrt_llm/llmapi/llm_args.py: kv_cache_config,
  enable_chunked_prefill).
- Furiosa LLM: tests/data/furiosa-llm-signatures.json, per release (copy of ../shared/reference).
"""
from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from autotune.outputs.emit import emit, furiosa_for
from autotune.outputs.emit.furiosa_releases import RELEASES
from autotune.errors import InputError
from autotune.parallel_plan import ParallelPlan
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from autotune.specs.workload import Workload
from cost_models.serving.engines import load_engine
from tests.unit.test_emit_furiosa import (calls, cli_names, options, python_blocks, shell_commands,
                                          signatures)
from tests.unit.test_emit_gpu import argv_of, option_map

VLLM_FLAGS = {"--tensor-parallel-size", "--pipeline-parallel-size", "--data-parallel-size", "--max-num-seqs",
              "--max-num-batched-tokens", "--max-model-len", "--dtype", "--quantization", "--kv-cache-dtype"}
SGLANG_FLAGS = {"--model-path", "--tp-size", "--pp-size", "--dp-size", "--max-running-requests",
                "--chunked-prefill-size", "--context-length", "--dtype", "--quantization", "--kv-cache-dtype"}
TRTLLM_FLAGS = {"--backend", "--tp_size", "--pp_size", "--max_batch_size", "--max_num_tokens", "--max_seq_len",
                "--extra_llm_api_options", "--port"}
TRTLLM_OPTION_KEYS = {"kv_cache_config", "enable_chunked_prefill"}
GPU = {"vllm": ("vllm serve", VLLM_FLAGS), "sglang": ("python -m sglang.launch_server", SGLANG_FLAGS),
       "trtllm": ("trtllm-serve", TRTLLM_FLAGS)}
#: Each engine's token-budget flag.
BUDGET_FLAG = {"vllm": "--max-num-batched-tokens", "sglang": "--chunked-prefill-size", "trtllm": "--max_num_tokens"}
#: Each engine's batch flag (per replica).
BATCH_FLAG = {"vllm": "--max-num-seqs", "sglang": "--max-running-requests", "trtllm": "--max_batch_size"}
PROFILE = {"vllm": "vllm", "sglang": "sglang", "trtllm": "tensorrt-llm"}

MODEL = load_model("llama-3.1-70b")
WORKLOAD = Workload(input_len=3000, output_len=1000)
FP8 = Workload(input_len=3000, output_len=1000, dtype="fp8")
H100 = load_hardware("h100-sxm")
A100 = load_hardware("a100-sxm-80g")
RNGD = load_hardware("rngd")


def gpu_plan(batch: int = 48, tokens: int | None = None, dp: int = 2) -> ParallelPlan:
    return ParallelPlan(tensor_parallel_size=4, pipeline_parallel_size=1, data_parallel_size=dp, batch_size=batch,
                        cards_used=4 * dp, pes_used=4 * dp, max_num_batched_tokens=tokens)


def flags_of(fmt: str, text: str) -> list[dict[str, str | None]]:
    start, _ = GPU[fmt]
    return [option_map(argv) for argv in argv_of(text, start)]


def options_file(text: str) -> dict:
    """Returns the trtllm extra options file the text writes (empty when none)."""
    if "<<'EOF'" not in text:
        return {}
    return yaml.safe_load(text.split("<<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0])


@pytest.mark.parametrize("fmt", sorted(GPU))
@pytest.mark.parametrize("tokens", [None, 512, 4096, 16384])
@pytest.mark.parametrize("hardware", [None, H100, A100])
@pytest.mark.parametrize("workload", [WORKLOAD, FP8])
def test_every_gpu_flag_is_in_the_engines_argument_list(fmt, tokens, hardware, workload):
    text = emit(fmt, plan=gpu_plan(batch=48, tokens=tokens), model=MODEL, workload=workload, hardware=hardware)
    _, known = GPU[fmt]
    commands = flags_of(fmt, text)
    assert commands
    for flags in commands:
        assert set(flags) <= known, set(flags) - known
        assert flags[BATCH_FLAG[fmt]] == "48"
    assert set(options_file(text)) <= TRTLLM_OPTION_KEYS


@pytest.mark.parametrize("fmt", sorted(GPU))
def test_a_plan_budget_goes_into_each_engines_own_flag(fmt):
    for tokens in (4096, 6000):
        text = emit(fmt, plan=gpu_plan(tokens=tokens), model=MODEL, workload=WORKLOAD, hardware=H100)
        for flags in flags_of(fmt, text):
            assert flags[BUDGET_FLAG[fmt]] == str(tokens)
        assert f"{BUDGET_FLAG[fmt]} {tokens} = set by the plan" in text.replace("\n#   ", " ")


@pytest.mark.parametrize("fmt", sorted(GPU))
@pytest.mark.parametrize("hardware", [H100, A100, load_hardware("b200"), load_hardware("l40s")])
def test_without_a_plan_budget_the_engine_profile_default_is_written_and_stated(fmt, hardware):
    profile = load_engine(PROFILE[fmt], hardware)
    text = emit(fmt, plan=gpu_plan(batch=8), model=MODEL, workload=Workload(input_len=1000, output_len=100),
                hardware=hardware)
    for flags in flags_of(fmt, text):
        assert flags[BUDGET_FLAG[fmt]] == str(profile.max_num_batched_tokens)
    comment = text.replace("\n#   ", " ")
    assert (f"# token budget per step: {BUDGET_FLAG[fmt]} {profile.max_num_batched_tokens} = the default of "
            f"{profile.display_name} {profile.release} on {hardware.name}") in comment


def test_vllm_h100_default_is_8192_and_a100_2048():
    # vllm/engine/arg_utils.py EngineArgs.get_batch_defaults, OpenAI API server: device memory >= 70 GiB and
    # not an A100 -> max_num_batched_tokens 8192; otherwise 2048 (A100 excluded after vLLM PR #17885).
    h100 = flags_of("vllm", emit("vllm", plan=gpu_plan(), model=MODEL, workload=WORKLOAD, hardware=H100))[0]
    a100 = flags_of("vllm", emit("vllm", plan=gpu_plan(), model=MODEL, workload=WORKLOAD, hardware=A100))[0]
    assert h100["--max-num-batched-tokens"] == "8192" and a100["--max-num-batched-tokens"] == "2048"


def test_vllm_never_gets_a_budget_below_max_num_seqs():
    # vllm/config/scheduler.py SchedulerConfig.verify_max_model_len: "max_num_batched_tokens (...) must be
    # greater than or equal to max_num_seqs"; the A100 default (2048) is below a batch of 3000.
    text = emit("vllm", plan=gpu_plan(batch=3000), model=MODEL, workload=WORKLOAD, hardware=A100)
    assert flags_of("vllm", text)[0]["--max-num-batched-tokens"] == "3000"
    assert "above 2048" in text
    with pytest.raises(InputError, match="plan: field 'max_num_batched_tokens': got 1024; expected at least "
                                         "--max-num-seqs \\(3000\\)"):
        emit("vllm", plan=gpu_plan(batch=3000, tokens=1024), model=MODEL, workload=WORKLOAD, hardware=H100)


def test_without_hardware_vllm_and_sglang_leave_the_device_default_and_say_so():
    for fmt in ("vllm", "sglang"):
        text = emit(fmt, plan=gpu_plan(), model=MODEL, workload=WORKLOAD)
        assert BUDGET_FLAG[fmt] not in flags_of(fmt, text)[0]
        assert "# token budget per step: not set, the engine picks its default for the device" in text


def test_trtllm_budget_below_the_prompt_turns_chunked_prefill_on():
    text = emit("trtllm", plan=gpu_plan(tokens=2048), model=MODEL, workload=WORKLOAD, hardware=H100)
    for flags in flags_of("trtllm", text):
        assert flags["--max_num_tokens"] == "2048"
        assert flags["--extra_llm_api_options"] == "extra-llm-api-options.yml"
    assert options_file(text) == {"enable_chunked_prefill": True}
    # At or above the prompt, no options file (bf16 weights and cache need none).
    text = emit("trtllm", plan=gpu_plan(tokens=3000), model=MODEL, workload=WORKLOAD, hardware=H100)
    assert options_file(text) == {} and "--extra_llm_api_options" not in text


def test_trtllm_default_budget_is_raised_to_a_longer_prompt_without_chunking():
    long_prompt = Workload(input_len=20000, output_len=100)
    text = emit("trtllm", plan=gpu_plan(), model=MODEL, workload=long_prompt, hardware=H100)
    assert flags_of("trtllm", text)[0]["--max_num_tokens"] == "20000"
    assert options_file(text) == {}


def test_a_budget_below_one_token_is_an_input_error():
    for fmt in ("vllm", "sglang", "trtllm"):
        with pytest.raises(InputError, match="max_num_batched_tokens"):
            emit(fmt, plan=gpu_plan(tokens=0), model=MODEL, workload=WORKLOAD, hardware=H100)
    with pytest.raises(InputError, match="max_num_batched_tokens"):
        emit("furiosa", plan=rngd_plan(tokens=0), model=MODEL, workload=WORKLOAD, release="2026.3")


# ---- Furiosa LLM --------------------------------------------------------------------------------------

def rngd_plan(tp: int = 32, dp: int = 1, batch: int = 48, tokens: int | None = None) -> ParallelPlan:
    return ParallelPlan(tensor_parallel_size=tp, pipeline_parallel_size=1, data_parallel_size=dp, batch_size=batch,
                        cards_used=max(1, tp * dp // 8), pes_used=tp * dp, max_num_batched_tokens=tokens)


#: A TP every release can build (2024.2-2025.2: within one card; 2026.2/2026.3: {4, 8, 32}).
TP_OF = {"2024.2": 8, "2025.1": 8, "2025.2": 8}


def release_plan(release: str, tokens: int | None, dp: int = 1) -> ParallelPlan:
    return rngd_plan(tp=TP_OF.get(release, 32), dp=dp, tokens=tokens)


@pytest.mark.parametrize("release", sorted(RELEASES))
@pytest.mark.parametrize("tokens", [None, 4096])
@pytest.mark.parametrize("dp", [1, 2])
def test_every_furiosa_flag_and_keyword_is_in_the_releases_signatures(release, tokens, dp):
    sig = signatures()[RELEASES[release].wheel]
    text = emit("furiosa", plan=release_plan(release, tokens, dp), model=MODEL, workload=WORKLOAD,
                release=release, hardware=RNGD)
    commands = shell_commands(text)
    build, serves = commands[0], commands[1:]
    known, _ = cli_names(sig["cli: fxb build" if build[0] == "fxb" else "cli: furiosa-llm build"])
    assert set(options(build)[0]) <= known, set(options(build)[0]) - known
    known, _ = cli_names(sig["cli: furiosa-llm serve"])
    for argv in serves:
        assert set(options(argv)[0]) <= known, set(options(argv)[0]) - known
    for source in python_blocks(text):
        for callee, _, keywords in calls(source):
            name = {"ArtifactBuilder": "ArtifactBuilder.__init__", "LLM": "LLM.__init__"}.get(callee, callee)
            if name in sig and "params" in sig[name]:
                assert set(keywords) <= set(sig[name]["params"]), set(keywords) - set(sig[name]["params"])


def budget_places(release: str, tokens: int) -> dict[str, object]:
    """Returns where the settings of `release` carry a plan's token budget: serve flag, build flag, builder."""
    s = furiosa_for(plan=release_plan(release, tokens), model=MODEL, workload=WORKLOAD, release=release)
    builder = dict(s.builder_calls[0].kwargs)
    return {"serve": dict(s.serve[0].options).get("--max-num-batched-tokens"),
            "build": dict(s.build.options).get("--prefill-chunk-size"),
            "builder": builder.get("prefill_chunk_size")}


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_a_plan_budget_goes_where_the_release_takes_one(release):
    sig = signatures()[RELEASES[release].wheel]
    serve_known, _ = cli_names(sig["cli: furiosa-llm serve"])
    places = budget_places(release, 4096)
    if "--max-num-batched-tokens" in serve_known:        # 2026.1 on
        assert places == {"serve": "4096", "build": None, "builder": None}
    elif "prefill_chunk_size" in sig.get("ArtifactBuilder.__init__", {}).get("params", ()):   # 2025.2, 2025.3
        assert places == {"serve": None, "build": "4096", "builder": 4096}
    else:                                               # 2024.2, 2025.1: no setting; a comment says so
        assert places == {"serve": None, "build": None, "builder": None}
        text = emit("furiosa", plan=release_plan(release, 4096), model=MODEL, workload=WORKLOAD, release=release)
        assert f"{release} has no setting for it" in text
    assert budget_places(release, 6000)["serve"] in (None, "6000")


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_the_batch_per_replica_reaches_the_runtime(release):
    s = furiosa_for(plan=release_plan(release, None), model=MODEL, workload=WORKLOAD, release=release)
    serve = dict(s.serve[0].options)
    sig = signatures()[RELEASES[release].wheel]
    serve_known, _ = cli_names(sig["cli: furiosa-llm serve"])
    if RELEASES[release].buckets == "explicit":
        assert s.buckets.decode[0][0] == 48                      # the compiled decode bucket carries it
        assert serve.get("--max-batch-size") == ("48" if "--max-batch-size" in serve_known else None)
        assert "--max-concurrency" not in serve
    else:
        # Preset buckets: --max-batch-size would drop compiled buckets above 48 (so cap the batch at 32);
        # --max-concurrency ("maximum concurrent decode requests per iteration") caps it at 48.
        assert serve["--max-concurrency"] == "48" and "--max-batch-size" not in serve


def test_2025_3_load_artifact_takes_the_batch():
    s = furiosa_for(plan=release_plan("2025.3", None), model=MODEL, workload=WORKLOAD, release="2025.3")
    assert dict(s.load_calls[0].kwargs)["max_batch_size"] == 48


def test_furiosa_without_a_plan_budget_states_the_profile_and_passes_no_flag():
    text = emit("furiosa", plan=release_plan("2026.3", None), model=MODEL, workload=WORKLOAD, release="2026.3",
                hardware=RNGD)
    profile = load_engine("furiosa-llm", RNGD, "2026.3")
    assert "--max-num-batched-tokens" not in text
    assert (f"the engine profile prices {profile.max_num_batched_tokens} tokens per step"
            in text.replace("\n#   ", " "))
    assert "no engine profile for 2026.4" in emit("furiosa", plan=release_plan("2026.4", None), model=MODEL,
                                                  workload=WORKLOAD, release="2026.4").replace("\n#   ", " ")


# ---- determinism and the plan's JSON ------------------------------------------------------------------

@pytest.mark.parametrize("fmt,kwargs", [("vllm", {"hardware": H100}), ("sglang", {"hardware": A100}),
                                        ("trtllm", {"hardware": H100}), ("furiosa", {"release": "2026.3"}),
                                        ("json", {"space": "gpu"}), ("yaml", {"release": "2025.3"})])
def test_emitted_limits_are_deterministic(fmt, kwargs):
    p = gpu_plan(tokens=4096) if fmt in GPU or kwargs.get("space") == "gpu" else rngd_plan(tokens=4096)
    first = emit(fmt, plan=p, model=MODEL, workload=WORKLOAD, **kwargs)
    again = emit(fmt, plan=dataclasses.replace(p), model=MODEL, workload=WORKLOAD, **kwargs)
    assert first == again and "4096" in first


def test_the_plan_json_gains_the_budget_only_when_set():
    assert "max_num_batched_tokens" not in gpu_plan().to_dict()
    assert gpu_plan(tokens=4096).to_dict()["max_num_batched_tokens"] == 4096
    doc = json.loads(emit("json", plan=gpu_plan(tokens=4096), model=MODEL, workload=WORKLOAD, space="gpu"))
    assert doc["plan"]["max_num_batched_tokens"] == 4096
