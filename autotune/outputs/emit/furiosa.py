"""Furiosa LLM settings for a plan: the build command, the builder's Python call, serve and load.

Names per release come from `furiosa_releases.RELEASES` (sources there). TP is counted in PEs.

Buckets (releases with explicit buckets, 2024.2 to 2026.1): one prefill bucket (1, P) with P the
prompt length rounded up to 128 tokens, and one decode bucket (B, C) with B the plan's batch per
replica and C the prompt plus output rounded up to 128 tokens; `max_seq_len_to_capture` = C so the
decode bucket is inside the captured length. Bucket tuples are (batch_size, context_length) as the
reference documents (section 3.2: `-pb 1,128 -db 4,2048`). The 2025.1 docs tune the same shape:
prefill [(1, 512), (1, 1024)], decode [(B, 2048) for B in 1..128] (reference section 5, [S-15]).
Releases 2026.2 and later validate buckets strictly (max prefill attention == max decode attention,
max_model_len == the buckets' executable length) and choose per-model presets when no bucket is
given: for them we pass only `max_model_len`, the prompt plus output rounded up to a power of two
from 1024 (the presets' decode contexts), capped at the model's max_position_embeddings.

Engine limits (flag names from furiosa-llm-signatures.json per release; meanings in reference 3.3 and
section 6 item 10): the batch per replica is the decode bucket's batch where we compile the buckets,
with serve `--max-batch-size` where serve takes it (2025.3, 2026.1); with preset buckets (2026.2 on)
serve `--max-concurrency` caps it, since `--max-batch-size` drops the compiled buckets above it and so
caps the batch at the largest compiled size below a batch that is not one. The plan's token budget
per step goes to serve `--max-num-batched-tokens` (2026.1 on) or, in 2025.2/2025.3, to the build's
`--prefill-chunk-size` (chunked prefill is enabled at build there); without a plan budget nothing is
passed (the release's SchedulerConfig default, max_num_batched_tokens None) and a comment states what
the engine profile (cost_models/serving/engines/furiosa-llm.yaml) prices.
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from autotune.outputs.emit.devices import MachineMesh, cards_needed, machine_meshes
from autotune.outputs.emit.furiosa_releases import (BUCKET_GRANULARITY_TOKENS, PES_PER_CARD, PRESET_MIN_CONTEXT_TOKENS,
                                            FuriosaRelease, tp_allowed, tp_rule_text)
from autotune.outputs.emit.limits import engine_profile
from autotune.outputs.emit.render import PyCall, ShellCommand
from autotune.errors import InputError
from autotune.parallel_plan import ParallelPlan
from autotune.specs.model import ModelSpec
from autotune.specs.workload import Workload


@dataclass(frozen=True, kw_only=True)
class Buckets:
    """The shapes an artifact is compiled for."""

    prefill: tuple[tuple[int, int], ...]
    """(batch_size, context_length) prefill buckets; empty when the release picks presets."""
    decode: tuple[tuple[int, int], ...]
    """(batch_size, context_length) decode buckets; empty when the release picks presets."""
    max_seq_len_to_capture: int | None
    max_model_len: int | None
    paged_attention_num_blocks: int | None
    """KV blocks of one token (block size 1, 2024.2): batch x decode context of one replica."""


@dataclass(frozen=True, kw_only=True)
class FuriosaSettings:
    """Everything a user pastes to build and serve a plan with one Furiosa LLM release."""

    release: FuriosaRelease
    model_id: str
    artifact_path: str
    buckets: Buckets
    build: ShellCommand
    builder_imports: tuple[str, ...]
    builder_calls: tuple[PyCall, ...]
    """ArtifactBuilder(...) then builder.build(...), or build_fxb(...)."""
    serve: tuple[ShellCommand, ...]
    """One `furiosa-llm serve` per machine."""
    load_imports: tuple[str, ...]
    load_calls: tuple[PyCall, ...]
    """One LLM load call per machine."""
    notes: tuple[str, ...]

    def builder_source(self) -> str:
        """Returns the Python that builds the artifact."""
        return "\n".join(self.builder_imports) + "\n\n" + "\n".join(c.render() for c in self.builder_calls)

    def load_source(self) -> str:
        """Returns the Python that loads the artifact (machine 0 first)."""
        return "\n".join(self.load_imports) + "\n\n" + "\n".join(c.render() for c in self.load_calls)

    def to_dict(self) -> dict[str, object]:
        return {
            "release": self.release.release,
            "wheel": self.release.wheel,
            "model_id": self.model_id,
            "artifact_path": self.artifact_path,
            "buckets": {
                "prefill": [list(b) for b in self.buckets.prefill],
                "decode": [list(b) for b in self.buckets.decode],
                "max_seq_len_to_capture": self.buckets.max_seq_len_to_capture,
                "max_model_len": self.buckets.max_model_len,
                "paged_attention_num_blocks": self.buckets.paged_attention_num_blocks,
            },
            "build_argv": self.build.argv(),
            "builder_calls": [c.to_dict() for c in self.builder_calls],
            "serve_argv": [s.argv() for s in self.serve],
            "load_calls": [c.to_dict() for c in self.load_calls],
            "notes": list(self.notes),
        }


def round_up(value: int, step: int) -> int:
    """Returns `value` rounded up to a multiple of `step`."""
    return -(-value // step) * step


def preset_max_model_len(context_len: int, max_position_embeddings: int) -> int:
    """Returns the max_model_len (tokens) for preset buckets: a power of two >= 1024, capped by the model."""
    length = PRESET_MIN_CONTEXT_TOKENS
    while length < context_len:
        length *= 2
    return min(length, max_position_embeddings)


def plan_buckets(release: FuriosaRelease, plan: ParallelPlan, model: ModelSpec, workload: Workload) -> Buckets:
    """Returns the buckets (or max_model_len) the release's artifact is built with for this workload."""
    if release.buckets == "preset":
        return Buckets(prefill=(), decode=(), max_seq_len_to_capture=None,
                       max_model_len=preset_max_model_len(workload.context_len, model.max_position_embeddings),
                       paged_attention_num_blocks=None)
    prompt = min(round_up(workload.input_len, BUCKET_GRANULARITY_TOKENS), model.max_position_embeddings)
    context = min(round_up(workload.context_len, BUCKET_GRANULARITY_TOKENS), model.max_position_embeddings)
    blocks = plan.batch_size * context if release.paged_attention_blocks else None
    return Buckets(prefill=((1, prompt),), decode=((plan.batch_size, context),), max_seq_len_to_capture=context,
                   max_model_len=None, paged_attention_num_blocks=blocks)


def check_expressible(release: FuriosaRelease, plan: ParallelPlan, model: ModelSpec, workload: Workload) -> None:
    """Raises InputError when this release cannot build or serve the plan."""
    source = f"furiosa-llm {release.release}"
    tp, pp = plan.tensor_parallel_size, plan.pipeline_parallel_size
    # No release has an expert-parallel or attention data-parallel option (furiosa-llm-signatures.json); the
    # Furiosa spaces never propose one, so only a hand-made plan reaches this.
    for field, value in (("expert_parallel_size", plan.ep), ("attention_data_parallel_size", plan.adp)):
        if value != 1:
            raise InputError(source=source, field=field, value=value,
                             expected="1: no Furiosa LLM release runs expert parallel or attention data parallel")
    if not tp_allowed(release, tp):
        raise InputError(source=source, field="tensor_parallel_size", value=tp, expected=tp_rule_text(release))
    if release.tp_sizes == "chips":
        chips = tp // PES_PER_CARD
        if model.num_key_value_heads % chips != 0:
            raise InputError(source=source, field="tensor_parallel_size", value=tp,
                             expected=f"chips ({chips}) dividing num_key_value_heads ({model.num_key_value_heads}) "
                                      f"of {model.name} (furiosa-kernels 2026.4)")
    if pp > model.num_layers:
        raise InputError(source=source, field="pipeline_parallel_size", value=pp,
                         expected=f"at most num_layers ({model.num_layers}): each stage needs a layer")
    if plan.batch_size < 1:
        raise InputError(source="plan", field="batch_size", value=plan.batch_size, expected="an integer >= 1")
    if workload.context_len > model.max_position_embeddings:
        raise InputError(source="workload", field="input_len + output_len", value=workload.context_len,
                         expected=f"at most max_position_embeddings ({model.max_position_embeddings}) of "
                                  f"{model.name}")


def artifact_path(model: ModelSpec, plan: ParallelPlan, *, fxb: bool) -> str:
    """Returns the output path we name the artifact (`./llama-3.1-70b-tp32-pp1`, `.fxb` for FXB).

    Named after the model (preset name, HF id's last part, or the local folder's name), never a file.
    """
    slug = re.sub(r"[^a-z0-9.]+", "-", model.short_name.lower()).strip("-.") or "model"
    path = f"./{slug}-tp{plan.tensor_parallel_size}-pp{plan.pipeline_parallel_size}"
    return path + ".fxb" if fxb else path


def furiosa_settings(*, release: FuriosaRelease, plan: ParallelPlan, model: ModelSpec,
                     workload: Workload, hardware: object = None) -> FuriosaSettings:
    """Returns the build, builder, serve and load settings of `plan` for one release."""
    check_expressible(release, plan, model, workload)
    check_token_budget(plan)
    meshes = machine_meshes(plan)
    model_id = model.serving_id
    uses_fxb = release.build_cli == "fxb" or (
        bool(release.furiosa_build_model_types) and model.model_type not in release.furiosa_build_model_types)
    out = artifact_path(model, plan, fxb=uses_fxb)
    buckets = plan_buckets(release, plan, model, workload)
    notes = _notes(release, plan, workload, meshes, uses_fxb, checkpoint_dtype=model.checkpoint_dtype)
    notes += limit_notes(release, plan, hardware=hardware)
    if uses_fxb:
        build = _fxb_build(model_id, out, plan, buckets)
        builder_imports, builder_calls = _build_fxb_call(model_id, out, plan, buckets)
    else:
        build = _furiosa_build(release, model_id, out, plan, buckets, meshes[0])
        builder_imports, builder_calls = _artifact_builder_calls(release, model_id, out, plan, buckets, meshes[0])
    serve = tuple(_serve(release, model_id, out, plan, mesh, uses_fxb) for mesh in meshes)
    load_imports = ("from furiosa_llm import LLM",)
    load_calls = tuple(_load(release, model_id, out, plan, mesh, uses_fxb) for mesh in meshes)
    return FuriosaSettings(release=release, model_id=model_id, artifact_path=out, buckets=buckets, build=build,
                           builder_imports=builder_imports, builder_calls=builder_calls, serve=serve,
                           load_imports=load_imports, load_calls=load_calls, notes=notes)


def _notes(release: FuriosaRelease, plan: ParallelPlan, workload: Workload, meshes: list[MachineMesh],
           uses_fxb: bool, checkpoint_dtype: str | None = None) -> tuple[str, ...]:
    notes = []
    cards = cards_needed(plan)
    if plan.cards_used and plan.cards_used != cards:
        notes.append(f"note: this placement uses {cards} cards; the plan counted {plan.cards_used}")
    if len(meshes) > 1:
        notes.append(f"{len(meshes)} machines of 8 cards: build once, serve one command per machine")
    if workload.dtype not in ("bf16", checkpoint_dtype):  # a checkpoint in the format is used as given
        notes.append(f"weights {workload.dtype}: pass a checkpoint already quantized to {workload.dtype} as MODEL "
                     f"(furiosa-model-compressor output or a published pre-quantized model)")
    if workload.cache_dtype != workload.dtype:
        notes.append(f"KV cache {workload.cache_dtype}: no builder or serve flag sets it; the artifact's "
                     f"checkpoint decides the KV-cache format")
    if release.serve_device_mesh and any(m.data_parallel_size > 1 for m in meshes):
        notes.append("2025.3 rejects a device mesh with DP > 1, so serve takes -pp, -dp and --devices")
    if uses_fxb and release.furiosa_build_model_types:
        notes.append(f"model type not in {', '.join(release.furiosa_build_model_types)}: "
                     f"{release.release} builds it with `fxb build`")
    return tuple(notes)


def check_token_budget(plan: ParallelPlan) -> None:
    """Raises InputError when the plan carries a token budget below one token."""
    if plan.max_num_batched_tokens is not None and plan.max_num_batched_tokens < 1:
        raise InputError(source="plan", field="max_num_batched_tokens", value=plan.max_num_batched_tokens,
                         expected="an integer >= 1 (tokens per engine step)")


def prefill_chunk_size(release: FuriosaRelease, plan: ParallelPlan) -> int | None:
    """Returns the build's prefill chunk (tokens) that carries the plan's token budget, or None."""
    if release.build_prefill_chunk_size and plan.max_num_batched_tokens is not None:
        return plan.max_num_batched_tokens
    return None


def serve_limits(release: FuriosaRelease, plan: ParallelPlan) -> list[tuple[str, str | None]]:
    """Returns the serve flags that bound one replica's step (batch, token budget) where the release has them."""
    options: list[tuple[str, str | None]] = []
    if release.buckets == "explicit":
        if release.serve_max_batch_size:  # the one decode bucket we compile has this batch
            options.append(("--max-batch-size", str(plan.batch_size)))
    elif release.serve_max_concurrency:
        options.append(("--max-concurrency", str(plan.batch_size)))
    if plan.max_num_batched_tokens is not None and release.serve_max_num_batched_tokens:
        options.append(("--max-num-batched-tokens", str(plan.max_num_batched_tokens)))
    return options


def limit_notes(release: FuriosaRelease, plan: ParallelPlan, *, hardware: object = None) -> tuple[str, ...]:
    """Returns the comment lines that say where the batch and the token budget of a replica are set."""
    batch = plan.batch_size
    if release.buckets == "explicit":
        where = "the decode bucket compiles it"
        if release.serve_max_batch_size:
            where += f"; serve --max-batch-size {batch} keeps to it"
        notes = [f"batch {batch} per replica: {where}"]
    else:
        notes = [f"batch {batch} per replica: serve --max-concurrency {batch} (with preset buckets "
                 f"--max-batch-size would drop the compiled decode buckets above it)"]
        if plan.data_parallel_size > 1:
            notes.append(f"--max-concurrency is read as per replica; no source states how it splits over "
                         f"DP replicas: if it caps them together, pass {batch * plan.data_parallel_size}")
    tokens = plan.max_num_batched_tokens
    if tokens is not None:
        if release.serve_max_num_batched_tokens:
            notes.append(f"token budget per step: serve --max-num-batched-tokens {tokens} (set by the plan)")
        elif release.build_prefill_chunk_size:
            notes.append(f"token budget per step: build --prefill-chunk-size {tokens} (set by the plan), which "
                         f"turns on chunked prefill (experimental in {release.release})")
        else:
            notes.append(f"token budget per step {tokens} (set by the plan): {release.release} has no setting "
                         f"for it; the prefill bucket bounds a step")
    else:
        profile = engine_profile("furiosa", hardware, release.release)
        priced = (f"the engine profile prices {profile.max_num_batched_tokens} tokens per step (furiosa-llm.yaml "
                  f"{profile.release})" if profile is not None else
                  f"no engine profile for {release.release}")
        notes.append(f"token budget per step: not set, the release default (the compiled buckets bound a "
                     f"step); {priced}")
    if release.load_api == "LLM" and (release.serve_max_concurrency or tokens is not None):
        notes.append("from Python, LLM(...) takes these limits in scheduler_config, not as keywords")
    return tuple(notes)


def _furiosa_build(release: FuriosaRelease, model_id: str, out: str, plan: ParallelPlan, buckets: Buckets,
                   mesh: MachineMesh) -> ShellCommand:
    tp, pp = plan.tensor_parallel_size, plan.pipeline_parallel_size
    options: list[tuple[str, str | None]] = []
    if release.build_cli == "model-id":
        words = ("furiosa-llm", "build", out)
        options += [("--model-id", model_id), ("--devices", ",".join(mesh.device_strings()))]
    else:
        words = ("furiosa-llm", "build", model_id, out)
    options += [("-tp", str(tp)), ("-pp", str(pp))]
    if release.builder_devices:  # 2024.2: the CLI build takes -dp beside --devices
        options.append(("-dp", str(mesh.data_parallel_size)))
    options += [("-pb", f"{b},{c}") for b, c in buckets.prefill]
    options += [("-db", f"{b},{c}") for b, c in buckets.decode]
    if buckets.max_seq_len_to_capture is not None:
        options.append(("--max-seq-len-to-capture", str(buckets.max_seq_len_to_capture)))
    if buckets.max_model_len is not None:
        options.append(("--max-model-len", str(buckets.max_model_len)))
    if buckets.paged_attention_num_blocks is not None:
        options.append(("--paged-attention-num-blocks", str(buckets.paged_attention_num_blocks)))
    chunk = prefill_chunk_size(release, plan)
    if chunk is not None:
        options.append(("--prefill-chunk-size", str(chunk)))
    return ShellCommand(words=words, options=tuple(options))


def _fxb_build(model_id: str, out: str, plan: ParallelPlan, buckets: Buckets) -> ShellCommand:
    options = [("-tp", str(plan.tensor_parallel_size)), ("-pp", str(plan.pipeline_parallel_size))]
    if buckets.max_model_len is not None:
        options.append(("--max-model-len", str(buckets.max_model_len)))
    return ShellCommand(words=("fxb", "build", model_id, out), options=tuple(options))


def _artifact_builder_calls(release: FuriosaRelease, model_id: str, out: str, plan: ParallelPlan,
                            buckets: Buckets, mesh: MachineMesh) -> tuple[tuple[str, ...], tuple[PyCall, ...]]:
    tp, pp = plan.tensor_parallel_size, plan.pipeline_parallel_size
    kwargs: list[tuple[str, object]] = []
    if release.builder_api == "flat":
        imports = ("from furiosa_llm.artifact.builder import ArtifactBuilder",)
        if release.builder_devices:
            kwargs.append(("devices", ",".join(mesh.device_strings())))
        kwargs += [("tensor_parallel_size", tp), ("pipeline_parallel_size", pp)]
        if release.builder_dp:
            kwargs.append(("data_parallel_size", mesh.data_parallel_size))
        kwargs += [("prefill_buckets", list(buckets.prefill)), ("decode_buckets", list(buckets.decode)),
                   ("max_seq_len_to_capture", buckets.max_seq_len_to_capture)]
        if buckets.paged_attention_num_blocks is not None:
            kwargs.append(("paged_attention_num_blocks", buckets.paged_attention_num_blocks))
        chunk = prefill_chunk_size(release, plan)
        if chunk is not None:
            kwargs.append(("prefill_chunk_size", chunk))
    else:
        parallel = PyCall(callee="ParallelConfig",
                          kwargs=(("tensor_parallel_size", tp), ("pipeline_parallel_size", pp)))
        if release.buckets == "explicit":
            imports = ("from furiosa_llm.artifact import ArtifactBuilder, BucketConfig, ParallelConfig",)
            bucket = PyCall(callee="BucketConfig", kwargs=(
                ("prefill_buckets", list(buckets.prefill)), ("decode_buckets", list(buckets.decode)),
                ("max_seq_len_to_capture", buckets.max_seq_len_to_capture)))
            kwargs += [("parallel_config", parallel), ("bucket_config", bucket)]
        else:
            # No bucket config: the release picks its per-model preset, filtered by max_model_len.
            imports = ("from furiosa_llm.artifact import ArtifactBuilder, ModelConfig, ParallelConfig",)
            model_config = PyCall(callee="ModelConfig", kwargs=(("max_model_len", buckets.max_model_len),))
            kwargs += [("model_config", model_config), ("parallel_config", parallel)]
    builder = PyCall(callee="ArtifactBuilder", args=(model_id,), kwargs=tuple(kwargs), assign_to="builder")
    build = PyCall(callee="builder.build", args=(out,))
    return imports, (builder, build)


def _build_fxb_call(model_id: str, out: str, plan: ParallelPlan,
                    buckets: Buckets) -> tuple[tuple[str, ...], tuple[PyCall, ...]]:
    kwargs: list[tuple[str, object]] = [
        ("model_path", model_id), ("output_path", out),
        ("tensor_parallel_size", plan.tensor_parallel_size),
        ("pipeline_parallel_size", plan.pipeline_parallel_size)]
    if buckets.max_model_len is not None:
        kwargs.append(("max_model_len", buckets.max_model_len))
    return ("from furiosa.llm_native.build import build_fxb",), (PyCall(callee="build_fxb", kwargs=tuple(kwargs)),)


def _serve(release: FuriosaRelease, model_id: str, out: str, plan: ParallelPlan, mesh: MachineMesh,
           uses_fxb: bool) -> ShellCommand:
    pp = plan.pipeline_parallel_size
    options: list[tuple[str, str | None]] = []
    if uses_fxb:
        words = ("furiosa-llm", "serve", model_id)
        options.append(("--fxb", out))
    elif release.serve_model_flag:
        words = ("furiosa-llm", "serve")
        options.append(("--model", out))
    else:
        words = ("furiosa-llm", "serve", out)
    if release.serve_tp:
        options.append(("-tp", str(plan.tensor_parallel_size)))
    if release.serve_device_mesh and mesh.data_parallel_size == 1:
        options.append(("--device-mesh", mesh.device_mesh()))
    else:
        options += [("-pp", str(pp)), ("-dp", str(mesh.data_parallel_size)),
                    ("--devices", ",".join(mesh.device_strings()))]
    options += serve_limits(release, plan)
    return ShellCommand(words=words, options=tuple(options))


def _load(release: FuriosaRelease, model_id: str, out: str, plan: ParallelPlan, mesh: MachineMesh,
          uses_fxb: bool) -> PyCall:
    # The Python loaders take the flat device list (2025.3's device_mesh keyword has no documented
    # Python type), with PP and DP that the runtime's mesh algorithm turns into the same mesh.
    kwargs: list[tuple[str, object]] = []
    if uses_fxb:
        args: tuple[object, ...] = (model_id,)
        kwargs.append(("fxb", out))
    else:
        args = (out,)
    kwargs += [("devices", ",".join(mesh.device_strings())),
               ("data_parallel_size", mesh.data_parallel_size),
               ("pipeline_parallel_size", plan.pipeline_parallel_size)]
    if release.load_max_batch_size and release.buckets == "explicit":
        kwargs.append(("max_batch_size", plan.batch_size))
    callee = {"from_artifacts": "LLM.from_artifacts", "load_artifact": "LLM.load_artifact", "LLM": "LLM"}
    return PyCall(callee=callee[release.load_api], args=args, kwargs=tuple(kwargs), assign_to="llm")


def render_furiosa(settings: FuriosaSettings, *, plan: ParallelPlan, workload: Workload,
                   release_note: str | None = None) -> str:
    """Returns the settings as text: comments, then (a) build, (b) Python builder, (c) serve and load."""
    rel = settings.release
    b = settings.buckets
    lines = [f"# Furiosa LLM {rel.release} (furiosa-llm {rel.wheel}): {settings.model_id}"]
    if release_note:
        lines.append(f"# {release_note}")
    lines.append(f"# plan: TP {plan.tensor_parallel_size} PEs x PP {plan.pipeline_parallel_size} x DP "
                 f"{plan.data_parallel_size}, batch {plan.batch_size} per replica, "
                 f"{_cards_text(cards_needed(plan))} ({PES_PER_CARD} PEs each)")
    if b.prefill:
        lines.append(f"# buckets (batch, context): prefill {_tuples(b.prefill)} = prompt {workload.input_len} "
                     f"rounded up to {BUCKET_GRANULARITY_TOKENS}; decode {_tuples(b.decode)} = batch x "
                     f"(prompt + output {workload.context_len}) rounded up")
    else:
        lines.append(f"# buckets: the release's preset for this model, filtered by max_model_len {b.max_model_len} "
                     f"(prompt + output {workload.context_len} rounded up to a power of two)")
    lines += [f"# {note}" for note in settings.notes]
    lines = [wrapped for line in lines for wrapped in wrap_comment(line)]
    lines += ["", "# (a) build", settings.build.render(), "",
              "# (b) build from Python", settings.builder_source(), "",
              "# (c) serve"]
    multi = len(settings.serve) > 1
    for index, command in enumerate(settings.serve):
        if multi:
            lines.append(f"# machine {index}")
        lines.append(command.render())
    lines += ["", "# (c) or load from Python" + (" (machine 0; the others alike)" if multi else ""),
              "\n".join(settings.load_imports), "", settings.load_calls[0].render()]
    return "\n".join(lines) + "\n"


def wrap_comment(line: str, width: int = 100) -> list[str]:
    """Returns a `# ...` comment line broken into lines of at most `width` columns."""
    if not line.startswith("# ") or len(line) <= width:
        return [line]
    return textwrap.wrap(line[2:], width=width, initial_indent="# ", subsequent_indent="#   ",
                         break_long_words=False, break_on_hyphens=False)


def _tuples(buckets: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(f"({b}, {c})" for b, c in buckets)


def _cards_text(cards: int) -> str:
    return f"{cards} RNGD card" + ("" if cards == 1 else "s")
