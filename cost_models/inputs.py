"""RowInputs: every fact the formulas need, one numpy entry per candidate row.

Building the rows once (from specs) and evaluating them many times (with different
parameters) is what lets the calibration refit hundreds of measurements in seconds, and
lets one call cost 100,000 candidates: the formulas in `cost_models.core` see only arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from autotune.specs.dtypes import bytes_per_element
from autotune.specs.hardware import HardwareSpec, LinkSpec
from autotune.specs.model import ModelSpec
from cost_models.params import CostParams

#: Model types whose attention and MLP read the same input in parallel (GPT-J, Falcon,
#: GPT-NeoX): their TP partial sums are added once, one all-reduce per layer.
PARALLEL_BLOCK_TYPES = frozenset({"gptj", "falcon", "gpt_neox"})

#: Bytes per parameter of embeddings and LM head in quantized checkpoints (16-bit).
BOUNDARY_BYTES = 2.0

#: Formats whose matmuls run on the narrow (8-bit or less) datapath when the device lists a peak for them.
NARROW_DTYPES = frozenset({"fp8", "int8", "int4", "fp4"})

#: Formats whose matmuls run on a 4-bit datapath (when the device lists a peak for them).
FOUR_BIT_DTYPES = frozenset({"int4", "fp4"})

#: Attention data parallel under in-flight batching: the mean over the busiest rank's tokens per step (the
#: "balance ratio"), as TensorRT-LLM measured it on DeepSeek-V3 with attention DP 8 + EP 8 on 8 GB200
#: (NVIDIA/TensorRT-LLM docs/source/blogs/tech_blog/blog10_ADP_Balance_Strategy.md, "Performance Summary"):
#: 54.11% with round-robin request placement (the engines' default) and 87.70% with its ADP balance
#: scheduler (attention_dp_config enable_balance). Every MoE layer waits for the busiest rank.
ADP_BALANCE_RATIO_ROUND_ROBIN = 0.5411
ADP_BALANCE_RATIO_BALANCED = 0.8770


@dataclass(frozen=True, kw_only=True)
class RowInputs:
    """Parallel float64 arrays (booleans for flags), one entry per row."""

    # The configuration.
    tp: np.ndarray
    pp: np.ndarray
    dp: np.ndarray
    batch: np.ndarray
    ep: np.ndarray
    """Expert-parallel groups per stage: each holds num_experts / ep whole experts, split over tp / ep units."""
    adp: np.ndarray
    """Attention data-parallel groups per stage: each serves batch / adp of the replica's sequences with its own
    KV cache, its attention (and the other non-routed weights) split over tp / adp units."""
    adp_balance_ratio: np.ndarray
    """Mean over busiest attention group's tokens in a steady step (`ADP_BALANCE_RATIO_*`; unused when adp = 1)."""
    input_len: np.ndarray
    output_len: np.ndarray
    # The model.
    num_layers: np.ndarray
    hidden_size: np.ndarray
    kv_heads: np.ndarray
    kv_shardable: np.ndarray
    layer_params: np.ndarray
    """Sum over layers of every stored parameter (all experts)."""
    kv_proj_params: np.ndarray
    """Sum over layers of the K and V projection weights (replicated when KV heads < TP)."""
    dense_active_params: np.ndarray
    """Sum over layers of the parameters every token uses: attention, norms, router, shared experts."""
    expert_params: np.ndarray
    num_experts: np.ndarray
    experts_per_token: np.ndarray
    moe_layers: np.ndarray
    embedding_params: np.ndarray
    final_params: np.ndarray
    tied_head_params: np.ndarray
    """LM-head copy the last stage needs when embeddings are tied and PP > 1 (0 otherwise)."""
    lm_head_params: np.ndarray
    allreduces_per_layer: np.ndarray
    """TP all-reduces per layer: 2 (after attention, after the MLP), 1 for parallel attention+MLP blocks."""
    attention_decode_flops: np.ndarray
    """Score and value FLOPs of one decode token at the average context, all layers."""
    attention_prefill_flops: np.ndarray
    """Score and value FLOPs of one sequence's causal prefill, all layers."""
    kv_sequence_bytes: np.ndarray
    """KV bytes one sequence holds at its longest context (input + output), all layers."""
    kv_read_bytes: np.ndarray
    """KV bytes one decode step reads for one sequence at the average context, all layers."""
    activation_width_replicated: np.ndarray
    """Activation elements per token not split by TP (residual stream copies)."""
    activation_width_sharded: np.ndarray
    """Activation elements per token split by TP (QKV, FFN intermediates)."""
    vocab_size: np.ndarray
    weight_bytes_per_param: np.ndarray
    """Bytes per parameter of the decoder layers in the weight format (routed experts aside)."""
    expert_weight_bytes_per_param: np.ndarray
    """Bytes per parameter of the routed-expert weights: the same as the other decoder weights, except in a
    checkpoint's own mixed format (gpt-oss MXFP4: experts 4.25 bits, attention 16-bit)."""
    boundary_bytes_per_param: np.ndarray
    """Bytes per parameter of the embedding and LM head: never narrower than 16-bit."""
    # The hardware.
    units_per_device: np.ndarray
    devices_per_node: np.ndarray
    peak_flops: np.ndarray
    """Dense peak FLOP/s of one device for the compute format."""
    narrow_compute: np.ndarray
    """True where matmuls run on the 8-bit (or narrower) datapath."""
    four_bit_compute: np.ndarray
    """True where matmuls run on a 4-bit datapath."""
    memory_bandwidth_bytes_per_s: np.ndarray
    memory_capacity_bytes: np.ndarray
    intra_link_pcie: np.ndarray
    inter_link_pcie: np.ndarray
    """True where the link class is PCIe peer-to-peer (its own achieved-bandwidth fraction)."""
    intra_link_bytes_per_s: np.ndarray
    intra_link_latency_s: np.ndarray
    inter_link_bytes_per_s: np.ndarray
    inter_link_latency_s: np.ndarray
    node_link_bytes_per_s: np.ndarray
    node_link_latency_s: np.ndarray
    intra_allreduce_fixed_s: np.ndarray
    """Fixed seconds of one all-reduce inside a device whose units exchange through shared memory (0: ring)."""
    intra_allreduce_pair_s: np.ndarray
    """Seconds per ordered unit pair of that all-reduce (0: a ring over the intra link)."""
    runtime_reserve_bytes: np.ndarray
    comm_buffer_bytes: np.ndarray
    memory_headroom_fraction: np.ndarray
    # The engine.
    activation_tokens: np.ndarray
    """Tokens one engine step may hold (its activation workspace): `params.activation_tokens`, or the
    `max_num_tokens` a measured engine was built with."""

    def __len__(self) -> int:
        return len(self.tp)


def compute_dtype(hardware: HardwareSpec, dtype: str) -> str:
    """Returns the format matmuls run in: `dtype` when the device has a peak for it, else 16-bit.

    A device without a datapath for the weight format (A100 and fp8, most GPUs and int4)
    runs weight-only quantized kernels that dequantize to 16-bit.
    """
    if dtype in hardware.peak_tflops:
        return dtype
    for fallback in ("bf16", "fp16"):
        if fallback in hardware.peak_tflops:
            return fallback
    return next(iter(sorted(hardware.peak_tflops)))


def _attended(model: ModelSpec, context_len: float, windowed: bool) -> float:
    """Returns the tokens attended over all layers at `context_len` (window caps only if the engine uses them)."""
    if windowed:
        return float(model.attended_tokens(int(round(context_len))))
    return float(model.num_layers * context_len)


def _model_facts(model: ModelSpec, input_len: int, output_len: int, kv_dtype: str,
                 windowed: bool) -> dict[str, float]:
    moe_layers = sum(1 for total, active in zip(model.layer_params, model.layer_active_params) if total > active)
    routed_active = moe_layers * model.experts_per_token * model.expert_params
    kv_proj = 0.0
    if model.kv_cache_shardable:
        kv_proj = model.num_layers * 2.0 * model.hidden_size * model.num_key_value_heads * model.head_dim
    decode_context = input_len + output_len / 2.0
    attention_per_token = 2.0 * model.num_attention_heads * (model.qk_head_dim + model.v_head_dim)
    decode_attention_per_token = attention_per_token
    if not model.kv_cache_shardable:
        # MLA decodes in the weight-absorbed form (deepseek-ai/DeepSeek-V3 inference/model.py, attn_impl
        # "absorb", the default; FlashMLA; SGLang and TensorRT-LLM MLA decode kernels): every head scores the
        # cached latent + rotary key (kv_cache_elements_per_token_per_layer, 576 for V3) and sums values over
        # the latent. The value side is counted over the same width (the spec does not give the rotary part
        # apart: 576 instead of V3's 512, +6% of the decode attention FLOPs). Prefill keeps the decompressed
        # heads (qk_head_dim, v_head_dim), as the engines' prefill kernels do.
        decode_attention_per_token = 2.0 * model.num_attention_heads * 2.0 * model.kv_cache_elements_per_token_per_layer
    kv_per_token = model.kv_cache_elements_per_token_per_layer * bytes_per_element(kv_dtype)
    q_width = model.num_attention_heads * model.qk_head_dim
    kv_width = model.num_key_value_heads * (model.qk_head_dim + model.v_head_dim)
    return {
        "num_layers": model.num_layers,
        "hidden_size": model.hidden_size,
        "kv_heads": model.num_key_value_heads,
        "kv_shardable": bool(model.kv_cache_shardable),
        "layer_params": float(sum(model.layer_params)),
        "kv_proj_params": kv_proj,
        "dense_active_params": float(sum(model.layer_active_params)) - routed_active,
        "expert_params": float(model.expert_params),
        "num_experts": float(model.num_experts),
        "experts_per_token": float(model.experts_per_token),
        "moe_layers": float(moe_layers),
        # A multimodal checkpoint's vision tower sits with the embeddings on the first stage (16-bit, like them).
        "embedding_params": float(model.embedding_params + model.vision_params),
        "final_params": float(model.final_params),
        "tied_head_params": float(model.lm_head_params if model.tie_word_embeddings else 0),
        "lm_head_params": float(model.lm_head_params),
        "allreduces_per_layer": 1.0 if model.model_type in PARALLEL_BLOCK_TYPES else 2.0,
        # Attention FLOPs are linear in the attended tokens; the mean over a decode of
        # output_len tokens is the value at the mean context (window caps aside).
        "attention_decode_flops": decode_attention_per_token * _attended(model, decode_context, windowed),
        "attention_prefill_flops": attention_per_token * _attended(model, input_len, windowed) * input_len / 2.0,
        "kv_sequence_bytes": kv_per_token * _attended(model, input_len + output_len, windowed),
        "kv_read_bytes": kv_per_token * _attended(model, decode_context, windowed),
        "activation_width_replicated": 2.0 * model.hidden_size,
        "activation_width_sharded": 3.0 * model.intermediate_size + q_width + kv_width,
        "vocab_size": float(model.vocab_size),
    }


def is_pcie(link: LinkSpec) -> bool:
    """Returns True for a PCIe peer-to-peer link (named so in the hardware file)."""
    return "pcie" in link.name.lower()


def _hardware_facts(hardware: HardwareSpec, dtype: str, params: CostParams) -> dict[str, float]:
    math_dtype = compute_dtype(hardware, dtype)
    intra = hardware.intra_device_link or hardware.inter_device_link
    name = hardware.name
    return {
        "units_per_device": hardware.compute_units_per_device,
        "devices_per_node": hardware.devices_per_node,
        "peak_flops": hardware.peak_tflops[math_dtype] * 1e12,
        "narrow_compute": math_dtype in NARROW_DTYPES,
        "four_bit_compute": math_dtype in FOUR_BIT_DTYPES,
        "memory_bandwidth_bytes_per_s": hardware.memory_bandwidth_bytes_per_s,
        "memory_capacity_bytes": hardware.memory_capacity_bytes,
        "intra_link_pcie": is_pcie(intra),
        "inter_link_pcie": is_pcie(hardware.inter_device_link),
        "intra_link_bytes_per_s": intra.bandwidth_bytes_per_s,
        "intra_link_latency_s": intra.latency_s,
        "inter_link_bytes_per_s": hardware.inter_device_link.bandwidth_bytes_per_s,
        "inter_link_latency_s": hardware.inter_device_link.latency_s,
        "node_link_bytes_per_s": hardware.inter_node_link.bandwidth_bytes_per_s,
        "node_link_latency_s": hardware.inter_node_link.latency_s,
        "intra_allreduce_fixed_s": params.per_hardware("intra_allreduce_fixed_s", name),
        "intra_allreduce_pair_s": params.per_hardware("intra_allreduce_pair_s", name),
        "runtime_reserve_bytes": params.per_hardware("runtime_reserve_bytes", name),
        "comm_buffer_bytes": params.per_hardware("comm_buffer_bytes", name),
        "memory_headroom_fraction": params.per_hardware("memory_headroom_fraction", name),
    }


def build_inputs(model: ModelSpec, hardware: HardwareSpec, *, input_len: int, output_len: int, dtype: str,
                 kv_dtype: str, tp: np.ndarray, pp: np.ndarray, dp: np.ndarray, batch: np.ndarray,
                 params: CostParams, ep: np.ndarray | None = None, adp: np.ndarray | None = None,
                 adp_balanced: np.ndarray | None = None) -> RowInputs:
    """Returns the rows for one model, device and workload over arrays of (tp, pp, dp, batch[, ep, adp]).

    `ep` and `adp` (None: all 1, plain tensor parallel) are the MoE degrees of
    `autotune.specs.candidates.Candidates`; both divide `tp`. `adp_balanced` (None: all False) marks
    engines that balance attention DP ranks step by step (TensorRT-LLM's ADP balance scheduler);
    the others place requests round-robin.
    """
    n = len(tp)
    windowed = params.per_hardware("sliding_window_kv", hardware.name) > 0
    facts = _model_facts(model, input_len, output_len, kv_dtype, windowed)
    facts.update(_hardware_facts(hardware, dtype, params))
    facts["activation_tokens"] = float(params.activation_tokens)
    facts["input_len"] = float(input_len)
    facts["output_len"] = float(output_len)
    facts["weight_bytes_per_param"], facts["expert_weight_bytes_per_param"] = model.decoder_bytes_per_param(dtype)
    # Quantized checkpoints (FP8/INT8/INT4/FP4 recipes of TensorRT Model Optimizer, vLLM,
    # llm-compressor) quantize the decoder layers' linear weights and keep the embedding
    # table and the LM head in 16-bit.
    facts["boundary_bytes_per_param"] = max(bytes_per_element(dtype), BOUNDARY_BYTES)
    columns: dict[str, np.ndarray] = {}
    for name, value in facts.items():
        kind = bool if isinstance(value, bool) else np.float64
        columns[name] = np.full(n, value, dtype=kind)
    for name, array in (("tp", tp), ("pp", pp), ("dp", dp), ("batch", batch)):
        columns[name] = np.asarray(array, dtype=np.float64)
    for name, array in (("ep", ep), ("adp", adp)):
        columns[name] = np.ones(n) if array is None else np.asarray(array, dtype=np.float64)
        if np.any(columns[name] < 1):
            raise ValueError(f"{name} must be >= 1 in every row")
        # A degree that does not divide TP breaks the space's `moe_divides_tp` rule, and the solver lists such
        # rows only to say so: price them as plain TP (the rule, not the cost, makes them infeasible).
        columns[name] = np.where(np.mod(columns["tp"], columns[name]) == 0, columns[name], 1.0)
    balanced = np.zeros(n, dtype=bool) if adp_balanced is None else np.asarray(adp_balanced, dtype=bool)
    columns["adp_balance_ratio"] = np.where(balanced, ADP_BALANCE_RATIO_BALANCED, ADP_BALANCE_RATIO_ROUND_ROBIN)
    return RowInputs(**columns)


def concat_inputs(parts: list[RowInputs]) -> RowInputs:
    """Returns the rows of `parts` one after another."""
    return RowInputs(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(RowInputs)})


def take_inputs(rows: RowInputs, index: np.ndarray) -> RowInputs:
    """Returns the rows selected by `index` (an integer or boolean array)."""
    return RowInputs(**{f.name: getattr(rows, f.name)[index] for f in fields(RowInputs)})
