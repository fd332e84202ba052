"""Engine profiles: each serving engine's scheduler limits per release, read from `engines/*.yaml`.

A profile says what one engine step may hold (sequences, tokens), whether prompts are chunked,
whether a step may mix prefill with decode tokens, how the KV cache is allocated, and, for
Furiosa LLM, the compiled buckets that pad the work. Every file names its sources.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autotune.errors import InputError
from autotune.specs.fields import check_int, load_yaml_mapping, reject_unknown_keys
from autotune.specs.hardware import HardwareSpec

ENGINES_DIR = Path(__file__).resolve().parent / "engines"

#: kv_allocation values: blocks as tokens are computed, preempted (recomputed) when the cache is full;
#: or the whole prompt + output reserved at admission, never evicted.
KV_ALLOCATIONS = ("on_demand", "reserve_full")

_GIB = 1024.0 ** 3

_RELEASE_KEYS = ("source", "chunked_prefill", "mixed_batches", "kv_allocation", "max_num_seqs",
                 "max_num_batched_tokens", "buckets", "prefills_between_decodes",
                 "seqs_within_budget", "limits_per_attention_dp_rank")
_BUCKET_KEYS = ("decode_batch_sizes", "decode_max_attention", "attention_min", "prefill_chunk_step",
                "prefill_chunk_max", "prefill_chunk_ladders")


@dataclass(frozen=True, kw_only=True)
class Buckets:
    """Compiled shapes of a Furiosa LLM artifact: decode (batch, attention) and batch-1 prefill chunks."""

    decode_batch_sizes: tuple[int, ...]
    """Compiled decode batch sizes, ascending."""
    decode_max_attention: tuple[int, ...]
    """Widest attention bucket compiled for each decode batch size (same order)."""
    attention_min: int
    """Smallest attention bucket; the ladder doubles from here up to each batch size's widest."""
    prefill_chunk_step: int
    """Prefill and extend buckets hold chunks in multiples of this many tokens (batch 1)."""
    prefill_chunk_max: int
    """Largest prefill or extend chunk (tokens)."""
    prefill_chunk_ladders: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Model type -> the token counts a prefill chunk of that architecture's artifacts is padded to (its
    tokenwise ladder), instead of the chunk step; applied by `for_model`."""
    prefill_chunk_ladder: tuple[int, ...] = ()
    """The ladder in force (empty: multiples of the chunk step)."""

    def for_model(self, model_type: str) -> "Buckets":
        """Returns these buckets with the prefill ladder of `model_type`'s artifacts, when the release gives one."""
        ladder = self.prefill_chunk_ladders.get(model_type)
        return replace(self, prefill_chunk_ladder=ladder) if ladder else self

    def decode_batch(self, sequences: int) -> int:
        """Returns the compiled batch size a decode step of `sequences` runs at (the next one up; 0 if none holds it)."""
        for size in self.decode_batch_sizes:
            if size >= sequences:
                return size
        return 0

    def attention_bucket(self, batch_size: int, context: int) -> int:
        """Returns the attention size a context runs at for a compiled batch size (0: none holds it)."""
        widest = self.decode_max_attention[self.decode_batch_sizes.index(batch_size)]
        size = self.attention_min
        while size < context:
            size *= 2
        return size if size <= widest else 0

    def padded_chunk(self, tokens: int) -> int:
        """Returns the tokens a prefill chunk of `tokens` runs at: the next rung of the ladder, else the next
        multiple of the chunk step."""
        for rung in self.prefill_chunk_ladder:
            if rung >= tokens:
                return rung
        step = self.prefill_chunk_step
        return -(-tokens // step) * step


@dataclass(frozen=True, kw_only=True)
class EngineProfile:
    """One engine release's scheduler limits for one device (defaults resolved)."""

    engine: str
    release: str
    display_name: str
    source: str
    chunked_prefill: bool
    """Prompts longer than the step's token budget are split over several steps."""
    mixed_batches: bool
    """A step may carry prefill tokens and decode tokens together."""
    kv_allocation: str
    """'on_demand' (grow as computed, preempt by recompute) or 'reserve_full' (prompt + output at admission)."""
    max_num_seqs: int | None
    """Sequences one step may hold (None: bounded by the KV cache only)."""
    max_num_batched_tokens: int
    """Tokens one step may compute (decode tokens included)."""
    buckets: Buckets | None = None
    prefills_between_decodes: int | None = None
    """Without mixed steps: prefill steps run before the decoding requests get a step (None: all waiting first)."""
    seqs_within_budget: bool = False
    """The engine rejects a token budget per step below max_num_seqs (vLLM), so no limit exceeds the budget."""
    limits_per_attention_dp_rank: bool = False
    """Under attention data parallelism each rank runs its own scheduler with the flags' max_num_seqs and token
    budget (vLLM's data-parallel engine cores, TensorRT-LLM's enable_attention_dp), so a replica's limits are
    ranks x the flags; False: the engine divides the replica's flags over its ranks (SGLang)."""


#: The engine profile of each `--emit` format; `--engine` takes these names too (`--engine trtllm`).
ENGINE_OF_EMIT_FORMAT = {"vllm": "vllm", "sglang": "sglang", "trtllm": "tensorrt-llm", "furiosa": "furiosa-llm"}


def engine_name(engine: str) -> str:
    """Returns the profile name of `engine`: itself, or the profile an `--emit` name stands for."""
    return ENGINE_OF_EMIT_FORMAT.get(engine, engine)


def engine_names() -> tuple[str, ...]:
    """Returns the engines with a profile file, sorted."""
    return tuple(sorted(p.stem for p in ENGINES_DIR.glob("*.yaml")))


def engine_releases(engine: str) -> tuple[str, ...]:
    """Returns the releases `engine`'s profile file describes (empty for an unknown engine)."""
    engine = engine_name(engine)
    if engine not in engine_names():
        return ()
    data = load_yaml_mapping(ENGINES_DIR / f"{engine}.yaml")
    releases = data.get("releases")
    return tuple(str(r) for r in releases) if isinstance(releases, dict) else ()


def load_engine(engine: str, hardware: HardwareSpec, release: str | None = None) -> EngineProfile:
    """Returns the profile of `engine` (a profile name, or an `--emit` name) at `release` (None: the file's default)
    with limits resolved for `hardware`."""
    if engine_name(engine) not in engine_names():
        raise InputError(source="--engine", value=engine, expected="one of " + ", ".join(engine_names())
                         + " (or " + ", ".join(k for k, v in ENGINE_OF_EMIT_FORMAT.items() if k != v) + ")")
    engine = engine_name(engine)
    path = ENGINES_DIR / f"{engine}.yaml"
    source = str(path)
    data = load_yaml_mapping(path)
    reject_unknown_keys(data, ("engine", "display_name", "releases", "default_release"), source=source)
    releases = data.get("releases")
    if not isinstance(releases, dict) or not releases:
        raise InputError(source=source, field="releases", value=releases, expected="a mapping of release -> limits")
    chosen = str(data.get("default_release")) if release is None else str(release)
    if chosen not in releases:
        raise InputError(source="--release", value=release, expected=f"a {engine} release with a profile: "
                         + ", ".join(str(r) for r in releases))
    entry = releases[chosen]
    where = f"releases.{chosen}"
    if not isinstance(entry, dict):
        raise InputError(source=source, field=where, value=entry, expected="a mapping")
    reject_unknown_keys(entry, _RELEASE_KEYS, source=source, prefix=where + ".")
    allocation = entry.get("kv_allocation")
    if allocation not in KV_ALLOCATIONS:
        raise InputError(source=source, field=where + ".kv_allocation", value=allocation,
                         expected="one of " + ", ".join(KV_ALLOCATIONS))
    seqs = _by_device(entry.get("max_num_seqs"), hardware, source=source, field=where + ".max_num_seqs")
    tokens = _by_device(entry.get("max_num_batched_tokens"), hardware, source=source,
                        field=where + ".max_num_batched_tokens")
    if tokens is None:
        raise InputError(source=source, field=where + ".max_num_batched_tokens", value=None,
                         expected="a token budget per step")
    buckets = entry.get("buckets")
    return EngineProfile(
        engine=str(data.get("engine", engine)), release=chosen, display_name=str(data.get("display_name", engine)),
        source=str(entry.get("source", "")), chunked_prefill=bool(entry.get("chunked_prefill")),
        mixed_batches=bool(entry.get("mixed_batches")), kv_allocation=allocation, max_num_seqs=seqs,
        max_num_batched_tokens=tokens, seqs_within_budget=bool(entry.get("seqs_within_budget", False)),
        limits_per_attention_dp_rank=bool(entry.get("limits_per_attention_dp_rank", False)),
        prefills_between_decodes=_by_device(entry.get("prefills_between_decodes"), hardware, source=source,
                                            field=where + ".prefills_between_decodes"),
        buckets=None if buckets is None else _buckets(buckets, source=source, field=where + ".buckets"))


def default_engine(hardware: HardwareSpec) -> str:
    """Returns the engine a device is served with when none is named: Furiosa LLM on RNGD, else vLLM."""
    return "furiosa-llm" if hardware.name.lower().startswith("rngd") else "vllm"


def _by_device(value: Any, hardware: HardwareSpec, *, source: str, field: str) -> int | None:
    """Returns an integer limit, or the first tier whose memory bound and name exclusions the device meets."""
    if value is None:
        return None
    if not isinstance(value, list):
        return check_int(value, field=field, source=source, minimum=1, maximum=10**7)
    memory_gib = hardware.memory_capacity_bytes / _GIB
    name = hardware.name.lower()
    for i, tier in enumerate(value):
        if not isinstance(tier, dict) or "value" not in tier:
            raise InputError(source=source, field=f"{field}[{i}]", value=tier,
                             expected="a mapping with 'value' and optional 'below_memory_gib', 'name_excludes'")
        reject_unknown_keys(tier, ("value", "below_memory_gib", "name_excludes"), source=source,
                            prefix=f"{field}[{i}].")
        below = tier.get("below_memory_gib")
        if below is not None and memory_gib >= float(below):
            continue
        if any(str(part).lower() in name for part in tier.get("name_excludes", ())):
            continue
        return check_int(tier["value"], field=f"{field}[{i}].value", source=source, minimum=1, maximum=10**7)
    raise InputError(source=source, field=field, value=value, expected="a last tier without conditions")


def _buckets(data: Any, *, source: str, field: str) -> Buckets:
    if not isinstance(data, dict):
        raise InputError(source=source, field=field, value=data, expected="a mapping of bucket settings")
    reject_unknown_keys(data, _BUCKET_KEYS, source=source, prefix=field + ".")
    sizes = tuple(sorted(check_int(v, field=field + ".decode_batch_sizes", source=source)
                         for v in data.get("decode_batch_sizes") or ()))
    widest = data.get("decode_max_attention") or {}
    if not sizes or not isinstance(widest, dict) or set(int(k) for k in widest) != set(sizes):
        raise InputError(source=source, field=field + ".decode_max_attention", value=widest,
                         expected="the widest attention of every compiled decode batch size")
    ladders = data.get("prefill_chunk_ladders") or {}
    if not isinstance(ladders, dict) or not all(isinstance(v, list) and v for v in ladders.values()):
        raise InputError(source=source, field=field + ".prefill_chunk_ladders", value=ladders,
                         expected="a mapping of model type -> ascending list of chunk token counts")
    return Buckets(decode_batch_sizes=sizes,
                   prefill_chunk_ladders={str(k): tuple(sorted(check_int(t, field=f"{field}.prefill_chunk_ladders.{k}",
                                                                         source=source) for t in v))
                                          for k, v in sorted(ladders.items())},
                   decode_max_attention=tuple(check_int(widest[s], field=f"{field}.decode_max_attention.{s}",
                                                        source=source) for s in sizes),
                   attention_min=check_int(data.get("attention_min"), field=field + ".attention_min", source=source),
                   prefill_chunk_step=check_int(data.get("prefill_chunk_step"), field=field + ".prefill_chunk_step",
                                                source=source),
                   prefill_chunk_max=check_int(data.get("prefill_chunk_max"), field=field + ".prefill_chunk_max",
                                               source=source))
