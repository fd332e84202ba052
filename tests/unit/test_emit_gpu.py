"""`--emit vllm|sglang|trtllm|yaml|json`: flag names as the engines document them, values from the plan.

Flag names: docs.vllm.ai engine arguments and data-parallel deployment; docs.sglang.io server
arguments; nvidia.github.io/TensorRT-LLM trtllm-serve (see autotune/outputs/emit/gpu.py for the pages).
"""
from __future__ import annotations

import json
import shlex

import pytest
import yaml

from autotune.outputs.emit import emit
from autotune.errors import InputError
from autotune.parallel_plan import ParallelPlan
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from autotune.specs.space import load_space
from autotune.specs.workload import Workload

MODEL = load_model("llama-3.1-70b")
PLAN = ParallelPlan(tensor_parallel_size=4, pipeline_parallel_size=2, data_parallel_size=2, batch_size=48,
                    cards_used=16, pes_used=16)
BF16 = Workload(input_len=3000, output_len=1000)
FP8 = Workload(input_len=3000, output_len=1000, dtype="fp8")


def argv_of(text: str, start: str) -> list[list[str]]:
    """Returns the argv of each command line beginning with `start` (continuations joined)."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line.rstrip(" &"))
        while words and "=" in words[0] and not words[0].startswith("-"):
            words = words[1:]   # environment assignments
        if words and " ".join(words).startswith(start):
            out.append(words)
    return out


def option_map(argv: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else None
            out[argv[i]] = value
            i += 2 if value is not None else 1
        else:
            i += 1
    return out


def test_vllm_serve_carries_degrees_batch_and_length():
    (argv,) = argv_of(emit("vllm", plan=PLAN, model=MODEL, workload=BF16, space="gpu"), "vllm serve")
    assert argv[2] == "meta-llama/Llama-3.1-70B"
    flags = option_map(argv)
    assert flags == {"--tensor-parallel-size": "4", "--pipeline-parallel-size": "2", "--data-parallel-size": "2",
                     "--max-num-seqs": "48", "--max-model-len": "4000", "--dtype": "bfloat16"}


def test_vllm_fp8_quantizes_weights_and_cache():
    flags = option_map(argv_of(emit("vllm", plan=PLAN, model=MODEL, workload=FP8), "vllm serve")[0])
    assert flags["--quantization"] == "fp8" and flags["--kv-cache-dtype"] == "fp8"
    assert "--dtype" not in flags


def test_sglang_caps_running_requests_per_replica():
    # SGLang 0.5.x model_runner_kv_cache_mixin.py init_memory: each DP rank's request pool is
    # --max-running-requests, divided by dp only with --enable-dp-attention (which we do not emit).
    # So the flag is the plan's batch per replica (48), not batch x DP (96).
    (argv,) = argv_of(emit("sglang", plan=PLAN, model=MODEL, workload=FP8), "python -m sglang.launch_server")
    flags = option_map(argv)
    assert flags["--model-path"] == "meta-llama/Llama-3.1-70B"
    assert (flags["--tp-size"], flags["--pp-size"], flags["--dp-size"]) == ("4", "2", "2")
    assert flags["--max-running-requests"] == "48" and flags["--context-length"] == "4000"
    assert "--enable-dp-attention" not in flags
    assert flags["--kv-cache-dtype"] == "fp8_e4m3"


def test_trtllm_runs_one_server_per_replica_on_disjoint_gpus():
    text = emit("trtllm", plan=PLAN, model=MODEL, workload=FP8)
    commands = argv_of(text, "trtllm-serve")
    assert len(commands) == 2
    # TP 4 x PP 2 = 8 GPUs per replica
    assert "CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 trtllm-serve" in text
    assert "CUDA_VISIBLE_DEVICES=8,9,10,11,12,13,14,15 trtllm-serve" in text
    ports = [option_map(c)["--port"] for c in commands]
    assert ports == ["8000", "8001"]
    flags = option_map(commands[0])
    assert (flags["--tp_size"], flags["--pp_size"], flags["--max_batch_size"], flags["--max_seq_len"]) == \
        ("4", "2", "48", "4000")
    assert flags["--extra_llm_api_options"] == "extra-llm-api-options.yml"
    assert "kv_cache_config:\n  dtype: fp8\n" in text


def test_trtllm_raises_max_num_tokens_to_a_long_prompt():
    single = ParallelPlan(tensor_parallel_size=8, pipeline_parallel_size=1, data_parallel_size=1, batch_size=4,
                          cards_used=8, pes_used=8)
    text = emit("trtllm", plan=single, model=MODEL, workload=Workload(input_len=20000, output_len=100))
    assert option_map(argv_of(text, "trtllm-serve")[0])["--max_num_tokens"] == "20000"
    assert "CUDA_VISIBLE_DEVICES" not in text and "--port" not in text


def test_multi_node_plans_say_so():
    wide = ParallelPlan(tensor_parallel_size=8, pipeline_parallel_size=2, data_parallel_size=1, batch_size=4,
                        cards_used=16, pes_used=16)
    text = emit("vllm", plan=wide, model=MODEL, workload=BF16, hardware=load_hardware("h100-sxm"))
    assert "span 2 nodes" in text


@pytest.mark.parametrize("fmt", ["vllm", "sglang", "trtllm"])
def test_kv_formats_an_engine_lacks_are_input_errors(fmt):
    with pytest.raises(InputError, match=f"--emit {fmt}: field 'kv_dtype': got 'int8'"):
        emit(fmt, plan=PLAN, model=MODEL, workload=Workload(dtype="int4", kv_dtype="int8"))


@pytest.mark.parametrize("fmt", ["vllm", "sglang", "trtllm"])
@pytest.mark.parametrize(("dtype", "kv_flag"), [("int4", None), ("int8", None), ("fp4", "fp8")])
def test_4_and_8_bit_weights_render_with_the_default_kv(fmt, dtype, kv_flag):
    # Before: the default KV format was the weights' (int4, fp4), which no engine caches in: an InputError.
    text = emit(fmt, plan=PLAN, model=MODEL, workload=Workload(dtype=dtype))
    if kv_flag is None:
        assert "--kv-cache-dtype" not in text and "kv_cache_config" not in text
    else:
        assert "--kv-cache-dtype fp8" in text or "dtype: fp8" in text


@pytest.mark.parametrize("kv_dtype", load_space("gpu").kv_dtypes)
def test_every_kv_format_the_gpu_space_offers_renders_in_some_engine(kv_dtype):
    rendered = []
    for fmt in ("vllm", "sglang", "trtllm"):
        try:
            emit(fmt, plan=PLAN, model=MODEL, workload=Workload(dtype="bf16", kv_dtype=kv_dtype))
        except InputError:
            continue
        rendered.append(fmt)
    assert rendered, f"no GPU emitter renders a {kv_dtype} KV cache"


def test_quantized_weights_note_the_checkpoint():
    text = emit("vllm", plan=PLAN, model=MODEL, workload=Workload(dtype="int4", kv_dtype="fp8"))
    assert "# weights int4: pass a checkpoint already quantized" in text


def test_runtime_mismatch_and_unknown_format_are_input_errors():
    with pytest.raises(InputError, match="for an RNGD plan"):
        emit("vllm", plan=PLAN, model=MODEL, workload=BF16, hardware=load_hardware("rngd"))
    with pytest.raises(InputError, match="for a GPU plan"):
        emit("furiosa", plan=PLAN, model=MODEL, workload=BF16, space="gpu")
    with pytest.raises(InputError, match="--emit: got 'tgi'; expected one of furiosa, vllm"):
        emit("tgi", plan=PLAN, model=MODEL, workload=BF16)


def test_yaml_and_json_carry_the_same_document():
    as_yaml = yaml.safe_load(emit("yaml", plan=PLAN, model=MODEL, workload=FP8, space="gpu"))
    as_json = json.loads(emit("json", plan=PLAN, model=MODEL, workload=FP8, space="gpu"))
    assert as_yaml == as_json
    assert as_json["plan"] == PLAN.to_dict()
    assert as_json["workload"]["kv_dtype"] == "fp8" and as_json["runtime"]["tensor_parallel_unit"] == "device"


def test_rngd_documents_list_the_devices_of_each_machine():
    rngd_plan = ParallelPlan(tensor_parallel_size=4, pipeline_parallel_size=1, data_parallel_size=2,
                             batch_size=8, cards_used=1, pes_used=8)
    doc = json.loads(emit("json", plan=rngd_plan, model=MODEL, workload=BF16, release="2025.3"))
    assert doc["devices"] == [["npu:0:0-3", "npu:0:4-7"]]
    assert doc["runtime"]["release"] == "2025.3" and doc["runtime"]["tensor_parallel_unit"] == "pe"
