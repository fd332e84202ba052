"""GPU serving commands for a plan: vLLM, SGLang and TensorRT-LLM (`trtllm-serve`).

Flag names checked in the engines' documentation (search of their published docs):
- vLLM: `vllm serve MODEL --tensor-parallel-size --pipeline-parallel-size --data-parallel-size
  --max-num-seqs --max-num-batched-tokens --max-model-len --dtype {bfloat16,float16} --quantization fp8
  --kv-cache-dtype fp8` (docs.vllm.ai engine arguments, generated from vllm/engine/arg_utils.py EngineArgs;
  serving/data_parallel_deployment: `--data-parallel-size 4 --tensor-parallel-size 2` uses 8 GPUs, each DP
  rank its own engine, so `--max-num-seqs` and `--max-num-batched-tokens` are per replica).
  vllm/config/scheduler.py SchedulerConfig.verify_max_model_len rejects max_num_batched_tokens <
  max_num_seqs ("must be greater than or equal to max_num_seqs"), and the default budget is not raised
  to a larger --max-num-seqs (arg_utils.py get_batch_defaults), so we never emit a budget below the batch.
- SGLang: `python -m sglang.launch_server --model-path --tp-size --pp-size --dp-size
  --max-running-requests --chunked-prefill-size --context-length --dtype --quantization fp8
  --kv-cache-dtype fp8_e4m3` (docs.sglang.io advanced_features/server_arguments; python/sglang/srt/
  server_args.py ServerArgs fields max_running_requests, chunked_prefill_size: the flag is the field
  name with dashes; chunked_prefill_size is the prefill tokens of one step). `--max-running-requests`
  caps each data-parallel replica: every DP rank is its own scheduler and model runner, whose request pool is
  `server_args.max_running_requests`, divided by the DP size only under `--enable-dp-attention`
  (sgl-project/sglang python/sglang/srt/model_executor/model_runner_kv_cache_mixin.py `init_memory`,
  0.5.x; ModelRunner.dp_size = dp_size if enable_dp_attention else 1; later pool_configurator.py divides
  by `attn_dp_size`, also 1 without DP attention). We emit no DP attention, so the value is the batch.
  Likewise `--chunked-prefill-size` is per replica: server_args.py divides it by dp_size only inside
  `if enable_dp_attention` ("The chunked prefill size is adjusted to ...").
- TensorRT-LLM: `trtllm-serve MODEL --backend pytorch --tp_size --pp_size --max_batch_size
  --max_num_tokens --max_seq_len` and `--extra_llm_api_options FILE` with `kv_cache_config: {dtype: fp8}`
  and `enable_chunked_prefill: true` (nvidia.github.io/TensorRT-LLM commands/trtllm-serve, 0.18.2 to 1.1;
  tensorrt_llm/commands/serve.py click options --max_batch_size, --max_num_tokens,
  --config/--extra_llm_api_options; tensorrt_llm/llmapi/llm_args.py `enable_chunked_prefill`, default
  False; run-benchmark-with-trtllm-serve 1.0.0). Without chunked prefill a whole prompt must fit one
  step's max_num_tokens, so a budget below the prompt turns chunked prefill on in the options file.
  trtllm-serve has no data-parallel flag: DP replicas are separate servers on disjoint GPUs
  (`CUDA_VISIBLE_DEVICES`) and ports.
Mixture-of-experts degrees (a plan's expert_parallel_size EP and attention_data_parallel_size ADP, both splitting
the TP GPUs of one replica; flags read in the engines' argument parsers):
- vLLM: `--enable-expert-parallel` (vllm/engine/arg_utils.py EngineArgs.enable_expert_parallel) puts the experts
  over all TP x DP ranks, so it renders EP = TP only; attention DP is `--data-parallel-size ADP` with
  `--tensor-parallel-size TP/ADP` (docs.vllm.ai serving/data_parallel_deployment: for MoE models the DP ranks
  share the expert layers, which form a DP x TP group). Each DP rank is its own engine with its own scheduler, so
  `--max-num-seqs` is the batch per attention-DP rank, ceil(batch / ADP). Since `--data-parallel-size` couples
  the ranks of an MoE model, the plan's independent replicas (DP) of an MoE model are separate servers on
  disjoint GPUs (`CUDA_VISIBLE_DEVICES`) and ports (`vllm serve --port`, default 8000).
- SGLang: `--ep-size EP` (python/sglang/srt/server_args.py ep_size; MoE TP = tp_size / ep_size) and
  `--enable-dp-attention --dp-size ADP` (attention TP = tp_size / dp_size); `--max-running-requests` is then
  divided by dp_size inside the server (module notes above), so it stays the batch of the replica. With attention
  DP, `--dp-size` no longer counts independent replicas: the plan's DP replicas are separate servers (`--port`,
  server_args.py default 30000).
- TensorRT-LLM: `--ep_size EP` (tensorrt_llm/commands/serve.py, the LLM API's moe_expert_parallel_size; MoE TP is
  then tp_size / EP) and `enable_attention_dp: true` in the options file (tensorrt_llm/llmapi/llm_args.py), which
  makes every rank its own attention replica: ADP = TP only. Each rank schedules its own requests, so
  `--max_batch_size` is the batch per attention-DP rank, ceil(batch / ADP).
Comment lines carry no quote characters: the tests (and users) split the output with shlex.
"""
from __future__ import annotations

from dataclasses import dataclass

from autotune.outputs.emit.furiosa import wrap_comment
from autotune.outputs.emit.limits import attention_dp_ranks, token_budget
from autotune.outputs.emit.render import ShellCommand
from autotune.errors import InputError
from autotune.parallel_plan import ParallelPlan
from autotune.specs.model import ModelSpec
from autotune.specs.workload import Workload

#: trtllm-serve's default port (docs: `--port` default 8000); replica r listens on 8000 + r.
TRTLLM_DEFAULT_PORT = 8000
#: The extra options file the trtllm commands write when they need one.
TRTLLM_OPTIONS_FILE = "extra-llm-api-options.yml"
#: `vllm serve --port` default (docs.vllm.ai serve CLI); replica r of an MoE plan listens on 8000 + r.
VLLM_DEFAULT_PORT = 8000
#: SGLang `--port` default (server_args.py ServerArgs.port); replica r of an attention-DP plan listens on 30000 + r.
SGLANG_DEFAULT_PORT = 30000

#: Weight formats an engine applies to a bf16/fp16 checkpoint by a flag; other formats need a checkpoint
#: already quantized (the engines read the format from its config).
_VLLM_DTYPE = {"bf16": ("--dtype", "bfloat16"), "fp16": ("--dtype", "float16"), "fp8": ("--quantization", "fp8")}
_SGLANG_DTYPE = _VLLM_DTYPE
_VLLM_KV = {"fp8": "fp8"}
_SGLANG_KV = {"fp8": "fp8_e4m3"}
_TRTLLM_KV = {"fp8": "fp8"}


def _model_id(model: ModelSpec) -> str:
    """Returns the engine's MODEL: the local checkpoint folder the user gave, else the HF id."""
    return model.serving_id


def _check_context(model: ModelSpec, workload: Workload) -> int:
    # The engines derive the longest context with the rope_scaling extension (vLLM _get_and_verify_max_len),
    # which is what ModelSpec.max_context_len computes.
    if workload.context_len > model.max_context_len:
        raise InputError(source="workload", field="input_len + output_len", value=workload.context_len,
                         expected=f"at most the context limit ({model.max_context_len}) of {model.name}")
    return workload.context_len


def _kv_flag(engine: str, table: dict[str, str], workload: Workload) -> str | None:
    """Returns the engine's KV-cache format value, or None when its default (the model's 16-bit format) fits."""
    kv = workload.cache_dtype
    if kv in table:
        return table[kv]
    if kv in ("bf16", "fp16"):
        return None  # the engines cache in the model's 16-bit format by default
    raise InputError(source=f"--emit {engine}", field="kv_dtype", value=kv,
                     expected="a KV-cache format the engine takes: bf16, fp16 or "
                              + ", ".join(sorted(table)) + " (set the KV format explicitly)")


def _dtype_notes(model: ModelSpec, workload: Workload, table: dict[str, tuple[str, str]]) -> list[str]:
    # A checkpoint already in the format (gpt-oss MXFP4, DeepSeek-V3 FP8) is served as given.
    if workload.dtype in table or workload.dtype == model.checkpoint_dtype:
        return []
    return [f"# weights {workload.dtype}: pass a checkpoint already quantized to {workload.dtype} as MODEL "
            f"(the engine reads its format from the checkpoint's config)"]


def is_moe_plan(plan: ParallelPlan) -> bool:
    """Returns whether the plan states mixture-of-experts degrees (an MoE model's plan, or EP/ADP above 1)."""
    return plan.expert_parallel_size is not None or plan.attention_data_parallel_size is not None


def check_moe_degrees(engine: str, plan: ParallelPlan) -> None:
    """Raises InputError when `engine` cannot run the plan's EP and attention DP (see the module notes)."""
    tp, ep, adp = plan.tensor_parallel_size, plan.ep, plan.adp
    for field, value in (("expert_parallel_size", ep), ("attention_data_parallel_size", adp)):
        if value < 1 or tp % value:
            raise InputError(source=f"--emit {engine}", field=field, value=value,
                             expected=f"a divisor of tensor_parallel_size ({tp})")
    if engine == "vllm" and ep not in (1, tp):
        raise InputError(source="--emit vllm", field="expert_parallel_size", value=ep,
                         expected=f"1 or {tp}: vLLM --enable-expert-parallel spans every GPU of the replica "
                                  f"(use --emit sglang or trtllm for EP {ep} of TP {tp})")
    if engine == "trtllm" and adp not in (1, tp):
        raise InputError(source="--emit trtllm", field="attention_data_parallel_size", value=adp,
                         expected=f"1 or {tp}: TensorRT-LLM enable_attention_dp makes every GPU its own attention "
                                  f"replica (use --emit vllm or sglang for attention DP {adp} of TP {tp})")


def _replica_placement(plan: ParallelPlan, replica: int, port: int) -> tuple[tuple[tuple[str, str], ...],
                                                                              tuple[str, str]]:
    """Returns the environment (the replica's GPUs) and the --port option of one replica run as its own server."""
    gpus = plan.tensor_parallel_size * plan.pipeline_parallel_size
    first = replica * gpus
    env = (("CUDA_VISIBLE_DEVICES", ",".join(str(g) for g in range(first, first + gpus))),)
    return env, ("--port", str(port + replica))


@dataclass(frozen=True, kw_only=True)
class EngineLimits:
    """The token budget per step one engine's command carries, and the comment that says where it came from."""

    tokens: int | None
    """Tokens per step to emit; None: leave the flag out (the engine picks its default for the device)."""
    chunked_prefill: bool = False
    """TensorRT-LLM only: the budget is below the prompt, so chunked prefill must be on."""
    comment: str


def vllm_limits(*, plan: ParallelPlan, hardware: object = None) -> EngineLimits:
    """Returns vLLM's `--max-num-batched-tokens`: the plan's, else the profile's default, never below the batch."""
    budget = token_budget("vllm", plan=plan, hardware=hardware)
    if budget.tokens is None:
        return EngineLimits(tokens=None, comment=f"# token budget per step: not set, {budget.source} "
                                                  f"(pass --hardware to write it)")
    seqs = -(-plan.batch_size // attention_dp_ranks("vllm", plan=plan, hardware=hardware))  # --max-num-seqs
    if budget.tokens < seqs:
        if budget.from_plan:
            raise InputError(source="plan", field="max_num_batched_tokens", value=budget.tokens,
                             expected=f"at least --max-num-seqs ({seqs}): vLLM rejects a "
                                      f"--max-num-batched-tokens below it")
        return EngineLimits(tokens=seqs,
                            comment=f"# token budget per step: --max-num-batched-tokens {seqs} = "
                                    f"--max-num-seqs, above {budget.tokens}, {budget.source} (vLLM rejects a "
                                    f"budget below --max-num-seqs)")
    return EngineLimits(tokens=budget.tokens, comment=f"# token budget per step: --max-num-batched-tokens "
                                                      f"{budget.tokens} = {budget.source}")


def sglang_limits(*, plan: ParallelPlan, hardware: object = None) -> EngineLimits:
    """Returns SGLang's `--chunked-prefill-size`: the plan's, else the profile's default for the device."""
    budget = token_budget("sglang", plan=plan, hardware=hardware)
    if budget.tokens is None:
        return EngineLimits(tokens=None, comment=f"# token budget per step: not set, {budget.source} "
                                                  f"(pass --hardware to write it)")
    return EngineLimits(tokens=budget.tokens, comment=f"# token budget per step: --chunked-prefill-size "
                                                      f"{budget.tokens} = {budget.source}")


def trtllm_limits(*, plan: ParallelPlan, workload: Workload, hardware: object = None) -> EngineLimits:
    """Returns TensorRT-LLM's `--max_num_tokens`, and whether chunked prefill must be on for it."""
    budget = token_budget("trtllm", plan=plan, hardware=hardware)
    if budget.tokens is None:  # the profile file lost its default: show the engine's own
        return EngineLimits(tokens=None, comment=f"# token budget per step: not set, {budget.source}")
    if budget.tokens >= workload.input_len:
        return EngineLimits(tokens=budget.tokens, comment=f"# token budget per step: --max_num_tokens "
                                                          f"{budget.tokens} = {budget.source}")
    if budget.from_plan:
        return EngineLimits(tokens=budget.tokens, chunked_prefill=True,
                            comment=f"# token budget per step: --max_num_tokens {budget.tokens} = set by the plan, "
                                    f"below the prompt ({workload.input_len}): chunked prefill on")
    # Chunked prefill is off by default, so one whole prompt must fit one step.
    return EngineLimits(tokens=workload.input_len,
                        comment=f"# token budget per step: --max_num_tokens {workload.input_len} = the prompt, "
                                f"above {budget.tokens}, {budget.source} (chunked prefill is off, so a whole "
                                f"prompt must fit one step)")


def vllm_commands(*, plan: ParallelPlan, model: ModelSpec, workload: Workload,
                  hardware: object = None) -> tuple[ShellCommand, ...]:
    """Returns the `vllm serve` command(s) of the plan: one, or one per replica of an MoE plan (module notes)."""
    if not is_moe_plan(plan) or plan.data_parallel_size == 1:
        return (vllm_command(plan=plan, model=model, workload=workload, hardware=hardware),)
    commands = []
    for replica in range(plan.data_parallel_size):
        env, port = _replica_placement(plan, replica, VLLM_DEFAULT_PORT)
        one = vllm_command(plan=plan, model=model, workload=workload, hardware=hardware, replicas=1)
        commands.append(ShellCommand(words=one.words, options=one.options + (port,), env=env))
    return tuple(commands)


def vllm_command(*, plan: ParallelPlan, model: ModelSpec, workload: Workload,
                 hardware: object = None, replicas: int | None = None) -> ShellCommand:
    """Returns the `vllm serve` command of the plan (`replicas`: the data-parallel replicas this server runs,
    default the plan's)."""
    context = _check_context(model, workload)
    limits = vllm_limits(plan=plan, hardware=hardware)
    replicas = plan.data_parallel_size if replicas is None else replicas
    if is_moe_plan(plan):
        check_moe_degrees("vllm", plan)
        # Attention DP is vLLM's data parallel of an MoE model: TP/ADP GPUs per rank, ADP ranks sharing the experts.
        tp, data_parallel, seqs = plan.tensor_parallel_size // plan.adp, plan.adp, -(-plan.batch_size // plan.adp)
    else:
        tp, data_parallel, seqs = plan.tensor_parallel_size, replicas, plan.batch_size
    options: list[tuple[str, str | None]] = [
        ("--tensor-parallel-size", str(tp)),
        ("--pipeline-parallel-size", str(plan.pipeline_parallel_size)),
        ("--data-parallel-size", str(data_parallel)),
    ]
    if plan.ep > 1:
        options.append(("--enable-expert-parallel", None))
    options.append(("--max-num-seqs", str(seqs)))
    if limits.tokens is not None:
        options.append(("--max-num-batched-tokens", str(limits.tokens)))
    options.append(("--max-model-len", str(context)))
    if workload.dtype in _VLLM_DTYPE:
        options.append(_VLLM_DTYPE[workload.dtype])
    kv = _kv_flag("vllm", _VLLM_KV, workload)
    if kv is not None:
        options.append(("--kv-cache-dtype", kv))
    return ShellCommand(words=("vllm", "serve", _model_id(model)), options=tuple(options))


def sglang_command(*, plan: ParallelPlan, model: ModelSpec, workload: Workload,
                   hardware: object = None) -> ShellCommand:
    """Returns the `python -m sglang.launch_server` command of the plan (of one replica under attention DP)."""
    context = _check_context(model, workload)
    limits = sglang_limits(plan=plan, hardware=hardware)
    if is_moe_plan(plan):
        check_moe_degrees("sglang", plan)
    options: list[tuple[str, str | None]] = [
        ("--model-path", _model_id(model)),
        ("--tp-size", str(plan.tensor_parallel_size)),
        ("--pp-size", str(plan.pipeline_parallel_size)),
    ]
    if plan.adp > 1:  # --dp-size is then the attention DP inside the TP GPUs (module notes)
        options += [("--dp-size", str(plan.adp)), ("--enable-dp-attention", None)]
    else:
        options.append(("--dp-size", str(plan.data_parallel_size)))
    if plan.ep > 1:
        options.append(("--ep-size", str(plan.ep)))
    options.append(("--max-running-requests", str(plan.batch_size)))   # per DP replica (module docstring)
    if limits.tokens is not None:
        options.append(("--chunked-prefill-size", str(limits.tokens)))
    options.append(("--context-length", str(context)))
    if workload.dtype in _SGLANG_DTYPE:
        options.append(_SGLANG_DTYPE[workload.dtype])
    kv = _kv_flag("sglang", _SGLANG_KV, workload)
    if kv is not None:
        options.append(("--kv-cache-dtype", kv))
    return ShellCommand(words=("python", "-m", "sglang.launch_server"), options=tuple(options))


def sglang_commands(*, plan: ParallelPlan, model: ModelSpec, workload: Workload,
                    hardware: object = None) -> tuple[ShellCommand, ...]:
    """Returns the SGLang command(s): one, or one per replica when attention DP takes --dp-size (module notes)."""
    one = sglang_command(plan=plan, model=model, workload=workload, hardware=hardware)
    if plan.adp == 1 or plan.data_parallel_size == 1:
        return (one,)
    commands = []
    for replica in range(plan.data_parallel_size):
        env, port = _replica_placement(plan, replica, SGLANG_DEFAULT_PORT)
        commands.append(ShellCommand(words=one.words, options=one.options + (port,), env=env))
    return tuple(commands)


def trtllm_options_file(*, workload: Workload, limits: EngineLimits, plan: ParallelPlan | None = None) -> list[str]:
    """Returns the YAML lines of the extra LLM API options file (empty: no file needed)."""
    lines = []
    if plan is not None and plan.adp > 1:
        lines.append("enable_attention_dp: true")
    kv = _kv_flag("trtllm", _TRTLLM_KV, workload)
    if kv is not None:
        lines += ["kv_cache_config:", f"  dtype: {kv}"]
    if limits.chunked_prefill:
        lines.append("enable_chunked_prefill: true")
    return lines


def trtllm_commands(*, plan: ParallelPlan, model: ModelSpec, workload: Workload,
                    hardware: object = None) -> tuple[ShellCommand, ...]:
    """Returns one `trtllm-serve` command per data-parallel replica (disjoint GPUs, own port)."""
    context = _check_context(model, workload)
    limits = trtllm_limits(plan=plan, workload=workload, hardware=hardware)
    if is_moe_plan(plan):
        check_moe_degrees("trtllm", plan)
    options_file = trtllm_options_file(workload=workload, limits=limits, plan=plan)
    gpus_per_replica = plan.tensor_parallel_size * plan.pipeline_parallel_size
    commands = []
    for replica in range(plan.data_parallel_size):
        options: list[tuple[str, str | None]] = [
            ("--backend", "pytorch"),
            ("--tp_size", str(plan.tensor_parallel_size)),
            ("--pp_size", str(plan.pipeline_parallel_size)),
        ]
        if plan.ep > 1:
            options.append(("--ep_size", str(plan.ep)))
        # Under attention DP each rank schedules its own requests (module notes).
        options.append(("--max_batch_size", str(-(-plan.batch_size // plan.adp))))
        if limits.tokens is not None:
            options.append(("--max_num_tokens", str(limits.tokens)))
        options.append(("--max_seq_len", str(context)))
        if options_file:
            options.append(("--extra_llm_api_options", TRTLLM_OPTIONS_FILE))
        env: tuple[tuple[str, str], ...] = ()
        if plan.data_parallel_size > 1:
            first = replica * gpus_per_replica
            env = (("CUDA_VISIBLE_DEVICES", ",".join(str(g) for g in range(first, first + gpus_per_replica))),)
            options.append(("--port", str(TRTLLM_DEFAULT_PORT + replica)))
        commands.append(ShellCommand(words=("trtllm-serve", _model_id(model)), options=tuple(options), env=env))
    return tuple(commands)


def _server_lines(commands: tuple[ShellCommand, ...]) -> list[str]:
    """Returns the rendered commands; several are replicas started in the background behind a load balancer."""
    lines = []
    if len(commands) > 1:
        lines.append(f"# {len(commands)} replicas: one server each; put a load balancer in front")
    return lines + [c.render() + (" &" if len(commands) > 1 else "") for c in commands]


def render_gpu(fmt: str, *, plan: ParallelPlan, model: ModelSpec, workload: Workload,
               devices_per_node: int | None = None, hardware: object = None) -> str:
    """Returns the engine's serving command(s) as text, with comment lines for what the flags cannot say."""
    gpus = plan.tensor_parallel_size * plan.pipeline_parallel_size * plan.data_parallel_size
    lines = [f"# {fmt}: {_model_id(model)}, TP {plan.tensor_parallel_size} x PP {plan.pipeline_parallel_size} "
             f"x DP {plan.data_parallel_size} = {gpus} GPU{'' if gpus == 1 else 's'}, "
             f"batch {plan.batch_size} per replica, "
             f"context {workload.context_len} (prompt {workload.input_len} + output {workload.output_len})"]
    if devices_per_node and gpus > devices_per_node:
        lines.append(f"# {gpus} GPUs span {-(-gpus // devices_per_node)} nodes of {devices_per_node}: "
                     f"start the engine's multi-node mode (Ray or its node-rank flags) across them")
    if plan.ep != 1 or plan.adp != 1:
        lines.append(f"# mixture of experts: EP {plan.ep} (MoE TP {plan.tensor_parallel_size // max(plan.ep, 1)}), "
                     f"attention DP {plan.adp} (attention TP {plan.tensor_parallel_size // max(plan.adp, 1)}) "
                     f"over the {plan.tensor_parallel_size} GPUs of each stage")
    if fmt == "vllm":
        lines.append(vllm_limits(plan=plan, hardware=hardware).comment)
        lines += _dtype_notes(model, workload, _VLLM_DTYPE)
        lines += _server_lines(vllm_commands(plan=plan, model=model, workload=workload, hardware=hardware))
    elif fmt == "sglang":
        lines.append(sglang_limits(plan=plan, hardware=hardware).comment)
        lines += _dtype_notes(model, workload, _SGLANG_DTYPE)
        lines += _server_lines(sglang_commands(plan=plan, model=model, workload=workload, hardware=hardware))
    elif fmt == "trtllm":
        limits = trtllm_limits(plan=plan, workload=workload, hardware=hardware)
        lines.append(limits.comment)
        if workload.dtype not in ("bf16", "fp16", model.checkpoint_dtype):
            lines.append(f"# weights {workload.dtype}: trtllm-serve reads the format from the checkpoint: "
                         f"pass one quantized to {workload.dtype} (TensorRT Model Optimizer)")
        commands = trtllm_commands(plan=plan, model=model, workload=workload, hardware=hardware)
        options_file = trtllm_options_file(workload=workload, limits=limits, plan=plan)
        if options_file:
            lines += [f"cat > {TRTLLM_OPTIONS_FILE} <<'EOF'", *options_file, "EOF"]
        lines += _server_lines(commands)
    else:
        raise ValueError(f"not a GPU format: {fmt!r}")  # emit() checks user input before
    lines = [wrapped for line in lines for wrapped in wrap_comment(line)]
    return "\n".join(lines) + "\n"
