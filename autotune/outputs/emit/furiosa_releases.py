"""Per-release facts of Furiosa LLM that the `furiosa` emitter needs, as a data table.

Every entry comes from `../shared/reference/furiosa-llm.md` (section 2: parallelism rules; section 3:
builder, CLI and LLM interfaces, read from the published `furiosa-llm` wheels) and from
`furiosa-llm-signatures.json` beside it (parameter and flag names per wheel). The tests check each
emitted flag and keyword against that JSON, so a name here that a wheel lacks fails a test.
"""
from __future__ import annotations

from dataclasses import dataclass

from autotune.errors import InputError

#: PEs on one RNGD card (`NUM_PES_PER_NPU = 8`, furiosa_llm/device.py, every release; reference section 1).
PES_PER_CARD = 8
#: RNGD cards one machine holds (2026.2/2026.3 `validate_parallel_config`: "at most 8 devices"; reference section 1).
CARDS_PER_MACHINE = 8
#: Prompt-length granularity of the buckets we emit: the release presets step prefill buckets by 128
#: tokens (2026.3 artifact/presets.py: prefill (1, 128..1024 step 128); reference section 5).
BUCKET_GRANULARITY_TOKENS = 128
#: Smallest decode context of the release presets (decode ctx {1K..128K}; reference section 5); the
#: `max_model_len` we pass to preset-bucket releases is a power of two from here up.
PRESET_MIN_CONTEXT_TOKENS = 1024


@dataclass(frozen=True, kw_only=True)
class FuriosaRelease:
    """How one Furiosa LLM release builds, names and loads an artifact."""

    release: str
    """Release name as the docs and search spaces use it (`2025.3`)."""
    wheel: str
    """The furiosa-llm wheel version the signatures were read from (`2025.3.4`)."""
    tp_sizes: str
    """TP rule: 'intra' {1,2,4,8}; 'inter' {1,2,4} or a multiple of 8; 'validated' {4,8,32}; 'chips' 8 x {1,2,4,8}."""
    build_cli: str
    """'model-id' (`furiosa-llm build OUTPUT --model-id ID`), 'positional' (`build MODEL OUTPUT`) or 'fxb'."""
    builder_api: str
    """'flat' (ArtifactBuilder keywords), 'configs' (ParallelConfig/BucketConfig objects) or 'build_fxb'."""
    builder_devices: bool
    """ArtifactBuilder takes `devices` (2024.2 only)."""
    builder_dp: bool
    """ArtifactBuilder takes `data_parallel_size` (2024.2, 2025.1)."""
    buckets: str
    """'explicit' (we emit prefill/decode buckets) or 'preset' (the release picks them by max_model_len)."""
    paged_attention_blocks: bool
    """The builder needs `paged_attention_num_blocks` (2024.2: required for paged-attention models)."""
    serve_model_flag: bool
    """`furiosa-llm serve --model PATH` (2024.2) rather than a positional model."""
    serve_tp: bool
    """Serve takes `-tp` and it matters (2024.2 compiles from it; later releases take TP from the artifact)."""
    serve_device_mesh: bool
    """Serve and load_artifact take `--device-mesh`/`device_mesh` (2025.3 only; not with DP > 1)."""
    load_api: str
    """'from_artifacts' (2024.2), 'load_artifact' (2025.x) or 'LLM' (2026.x: `LLM(path, ...)`)."""
    fxb_serve: bool
    """Serve loads an `.fxb` file through `--fxb` beside the model id (2026.4)."""
    furiosa_build_model_types: tuple[str, ...] = ()
    """When not empty: the model types `furiosa-llm build` accepts; others go through `fxb build` (2026.3)."""
    serve_max_batch_size: bool = False
    """Serve takes `--max-batch-size` ("buckets with larger batch size ... will be ignored"; 2025.3 to 2026.3,
    reference 3.3 and 6 item 10); we pass it where our one decode bucket carries the batch (explicit buckets)."""
    load_max_batch_size: bool = False
    """`LLM.load_artifact` takes `max_batch_size` (2025.3 only; reference 3.4)."""
    serve_max_concurrency: bool = False
    """Serve takes `--max-concurrency`, "maximum concurrent decode requests per iteration" (2026.1 on)."""
    serve_max_num_batched_tokens: bool = False
    """Serve takes `--max-num-batched-tokens`, "maximum number of batched tokens per iteration" (2026.1 on)."""
    build_prefill_chunk_size: bool = False
    """Build and ArtifactBuilder take `--prefill-chunk-size`/`prefill_chunk_size`, which turns chunked prefill
    on at build (2025.2, 2025.3; reference 6 item 9); 2026.1 also has it, but its serve budget is used there."""


RELEASES: dict[str, FuriosaRelease] = {
    r.release: r for r in (
        # 2024.2.1: builder.py takes devices and data_parallel_size; CLI `build OUTPUT --model-id`;
        # TP > 8 -> NotImplementedError("Inter-chip TP is not implemented yet.") (reference 2, 3.1, 3.2, 3.3, 3.4).
        FuriosaRelease(release="2024.2", wheel="2024.2.1", tp_sizes="intra", build_cli="model-id",
                       builder_api="flat", builder_devices=True, builder_dp=True, buckets="explicit",
                       paged_attention_blocks=True, serve_model_flag=True, serve_tp=True,
                       serve_device_mesh=False, load_api="from_artifacts", fxb_serve=False),
        # 2025.1.2: positional MODEL OUTPUT; no devices; builder keeps data_parallel_size.
        FuriosaRelease(release="2025.1", wheel="2025.1.2", tp_sizes="intra", build_cli="positional",
                       builder_api="flat", builder_devices=False, builder_dp=True, buckets="explicit",
                       paged_attention_blocks=False, serve_model_flag=False, serve_tp=False,
                       serve_device_mesh=False, load_api="load_artifact", fxb_serve=False),
        # 2025.2.1: data_parallel_size removed from ArtifactBuilder (runtime only).
        FuriosaRelease(release="2025.2", wheel="2025.2.1", tp_sizes="intra", build_cli="positional",
                       builder_api="flat", builder_devices=False, builder_dp=False, buckets="explicit",
                       paged_attention_blocks=False, serve_model_flag=False, serve_tp=False,
                       serve_device_mesh=False, load_api="load_artifact", fxb_serve=False,
                       build_prefill_chunk_size=True),
        # 2025.3.4: inter-chip TP (multiples of 8); serve/load take a device mesh.
        FuriosaRelease(release="2025.3", wheel="2025.3.4", tp_sizes="inter", build_cli="positional",
                       builder_api="flat", builder_devices=False, builder_dp=False, buckets="explicit",
                       paged_attention_blocks=False, serve_model_flag=False, serve_tp=False,
                       serve_device_mesh=True, load_api="load_artifact", fxb_serve=False,
                       build_prefill_chunk_size=True, serve_max_batch_size=True, load_max_batch_size=True),
        # 2026.1.0: ParallelConfig/BucketConfig objects; `LLM(path, ...)` loads; no device mesh.
        FuriosaRelease(release="2026.1", wheel="2026.1.0", tp_sizes="inter", build_cli="positional",
                       builder_api="configs", builder_devices=False, builder_dp=False, buckets="explicit",
                       paged_attention_blocks=False, serve_model_flag=False, serve_tp=False,
                       serve_device_mesh=False, load_api="LLM", fxb_serve=False,
                       serve_max_batch_size=True, serve_max_concurrency=True, serve_max_num_batched_tokens=True),
        # 2026.2.1: validate_parallel_config TP in {4, 8, 32}, ceil(TP/8) x PP <= 8; `--max-model-len`
        # replaces `--max-seq-len-to-capture`; bucket presets when no bucket is given.
        FuriosaRelease(release="2026.2", wheel="2026.2.1", tp_sizes="validated", build_cli="positional",
                       builder_api="configs", builder_devices=False, builder_dp=False, buckets="preset",
                       paged_attention_blocks=False, serve_model_flag=False, serve_tp=False,
                       serve_device_mesh=False, load_api="LLM", fxb_serve=False,
                       serve_max_batch_size=True, serve_max_concurrency=True, serve_max_num_batched_tokens=True),
        # 2026.3.0: as 2026.2; only qwen3, llama, exaone4 go through `furiosa-llm build`, the rest `fxb build`.
        FuriosaRelease(release="2026.3", wheel="2026.3.0", tp_sizes="validated", build_cli="positional",
                       builder_api="configs", builder_devices=False, builder_dp=False, buckets="preset",
                       paged_attention_blocks=False, serve_model_flag=False, serve_tp=False,
                       serve_device_mesh=False, load_api="LLM", fxb_serve=False,
                       furiosa_build_model_types=("exaone4", "llama", "qwen3"),
                       serve_max_batch_size=True, serve_max_concurrency=True, serve_max_num_batched_tokens=True),
        # 2026.4.0: FXB only (no ArtifactBuilder, no `furiosa-llm build`); `fxb build` and `build_fxb(...)`;
        # kernels SUPPORTED_NUM_CHIPS = (1, 2, 4, 8), TP = 8 PEs x chips; serve has no `-tp`.
        FuriosaRelease(release="2026.4", wheel="2026.4.0", tp_sizes="chips", build_cli="fxb",
                       builder_api="build_fxb", builder_devices=False, builder_dp=False, buckets="preset",
                       paged_attention_blocks=False, serve_model_flag=False, serve_tp=False,
                       serve_device_mesh=False, load_api="LLM", fxb_serve=True,
                       serve_max_concurrency=True, serve_max_num_batched_tokens=True),
    )
}

#: The newest release: used when neither `--release` nor a Furiosa search space names one.
NEWEST_RELEASE = "2026.4"

#: `build_fxb` keyword names (furiosa-llm-native 2026.4.0 .so signature; reference section 3.1). The
#: signatures JSON does not list it (it is not Python source), so the tests check these against the
#: reference text.
BUILD_FXB_PARAMS: tuple[str, ...] = (
    "model_path", "output_path", "tensor_parallel_size", "pipeline_parallel_size", "max_model_len",
    "optim_level", "dry_run", "build_report", "convert", "concurrency", "no_compiler_cache",
    "compiler_cache_dir", "dump_tc", "skip_bucket_validation", "enable_collective_dq", "enable_mtp",
    "enable_sampler", "fast_fail", "tokenwise_buckets", "attention_buckets", "exclude_attention_buckets",
    "slow_kernel_threshold_secs",
)

#: Number of RNGD chips a 2026.4 FXB kernel supports (furiosa-kernels 2026.4.0 topology.py; reference 2).
FXB_SUPPORTED_NUM_CHIPS: tuple[int, ...] = (1, 2, 4, 8)


def resolve_release(text: str, *, source: str = "--release") -> FuriosaRelease:
    """Returns the release named `2025.3`, `2025.3.4` (its wheel) or `furiosa-2025.3`."""
    name = str(text).strip()
    if name.startswith("furiosa-"):
        name = name[len("furiosa-"):]
    if name in RELEASES:
        return RELEASES[name]
    for entry in RELEASES.values():
        if name == entry.wheel:
            return entry
    raise InputError(source=source, field="release", value=text,
                     expected="one of " + ", ".join(RELEASES) + " (or the wheel version, e.g. 2024.2.1)")


def tp_allowed(release: FuriosaRelease, tp: int) -> bool:
    """Returns whether the release can build a TP group of `tp` PEs."""
    if release.tp_sizes == "intra":
        return tp in (1, 2, 4, 8)
    if release.tp_sizes == "inter":
        return tp in (1, 2, 4) or (tp >= 8 and tp % 8 == 0)
    if release.tp_sizes == "validated":
        return tp in (4, 8, 32)
    if release.tp_sizes == "chips":
        return tp % PES_PER_CARD == 0 and tp // PES_PER_CARD in FXB_SUPPORTED_NUM_CHIPS
    raise ValueError(f"unknown TP rule {release.tp_sizes!r}")  # a table bug, not user input


def tp_rule_text(release: FuriosaRelease) -> str:
    """Returns the release's TP rule in words, for error messages."""
    return {
        "intra": "TP in {1, 2, 4, 8} PEs (no inter-chip TP before 2025.3)",
        "inter": "TP in {1, 2, 4} PEs or a multiple of 8",
        "validated": "TP in {4, 8, 32} PEs (validate_parallel_config)",
        "chips": "TP = 8 PEs x chips, chips in {1, 2, 4, 8} (furiosa-kernels SUPPORTED_NUM_CHIPS)",
    }[release.tp_sizes]
