"""Time of prefill, decode steps and serving cycles, for arrays of rows (docs/cost-model.md, section 2).

One forward pass of a pipeline stage over some tokens costs a smooth roofline of compute
and memory traffic, plus its TP all-reduces and a fixed per-layer overhead. Pipeline
semantics: a token crosses every stage in turn, so its latency is the sum of the stage
times and the transfers; the stages work on different micro-batches at once, so each
stage is busy at most the whole cycle, which bounds throughput by the slowest stage.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cost_models.comm import pp_transfer_time_s, tp_allreduce_time_s
from cost_models.inputs import RowInputs
from cost_models.memory import kv_split, layers_per_stage, stage_fraction
from cost_models.params import CostParams


@dataclass(frozen=True, kw_only=True)
class StageWork:
    """What one stage pass processes, per row: decode tokens, prefill tokens and whole prompts."""

    decode_tokens: np.ndarray
    prefill_tokens: np.ndarray
    prefill_sequences: np.ndarray
    """Prompts (or fractions of prompts) that end in this pass (LM head, sequence overhead) and, unless
    `prefill_attention_flops` is given, whose whole causal attention this pass computes."""
    decode_attention_flops: np.ndarray | None = None
    """Score and value FLOPs of the decode tokens at their own contexts, all layers (None: every decode
    token at the workload's mean context, `rows.attention_decode_flops` each)."""
    decode_kv_read_bytes: np.ndarray | None = None
    """KV-cache bytes the decode tokens read at their own contexts, all layers, before the TP split
    (None: `rows.kv_read_bytes` per decode token)."""
    prefill_attention_flops: np.ndarray | None = None
    """Score and value FLOPs of the prefill tokens at their own positions (a chunk attends to the prompt
    before it), all layers (None: `rows.attention_prefill_flops` per prefill sequence)."""


def _attention_flops(rows: RowInputs, work: StageWork) -> tuple[np.ndarray, np.ndarray]:
    """Returns the pass's (decode, prefill) attention FLOPs over all layers, from the work or the rows' means."""
    decode = rows.attention_decode_flops * work.decode_tokens if work.decode_attention_flops is None \
        else work.decode_attention_flops
    prefill = rows.attention_prefill_flops * work.prefill_sequences if work.prefill_attention_flops is None \
        else work.prefill_attention_flops
    return decode, prefill


def expected_experts_touched(rows: RowInputs, tokens: np.ndarray) -> np.ndarray:
    """Returns the expected distinct routed experts one MoE layer reads for `tokens` tokens.

    Each token picks k of E experts; with independent uniform routing the chance an expert
    is untouched is (1 - k/E)^tokens, so E (1 - (1 - k/E)^tokens) are read.
    """
    experts = np.maximum(rows.num_experts, 1.0)
    share = np.clip(rows.experts_per_token / experts, 0.0, 1.0)
    return np.where(rows.num_experts > 0, experts * (1.0 - (1.0 - share) ** tokens), 0.0)


def stage_flops(rows: RowInputs, work: StageWork) -> np.ndarray:
    """Returns the FLOPs of one pass of the most loaded stage (which also holds the LM head).

    2 FLOPs per multiply-accumulate per active parameter per token; attention scores and
    values per attended token; the LM head for every decode token and each prompt's last token.
    """
    tokens = work.decode_tokens + work.prefill_tokens
    active = rows.dense_active_params + rows.moe_layers * rows.experts_per_token * rows.expert_params
    decode, prefill = _attention_flops(rows, work)
    layers = 2.0 * active * tokens + decode + prefill
    head = 2.0 * rows.lm_head_params * (work.decode_tokens + work.prefill_sequences)
    return layers * stage_fraction(rows) + head


def stage_attention_flops(rows: RowInputs, work: StageWork) -> np.ndarray:
    """Returns the attention score and value FLOPs of one pass of the most loaded stage (part of `stage_flops`)."""
    decode, prefill = _attention_flops(rows, work)
    return (decode + prefill) * stage_fraction(rows)


def stage_traffic_bytes_per_unit(rows: RowInputs, work: StageWork) -> tuple[np.ndarray, np.ndarray]:
    """Returns the bytes one TP unit reads in one stage pass: (weights it uses, KV cache).

    Dense weights are read once per pass whatever the token count; a MoE layer reads only
    the experts its tokens touch; the LM head is read whole; the embedding only by rows.
    """
    frac = stage_fraction(rows)
    tokens = work.decode_tokens + work.prefill_tokens
    dense = (rows.dense_active_params - rows.kv_proj_params) / rows.tp + rows.kv_proj_params / kv_split(rows)
    experts = rows.moe_layers * expected_experts_touched(rows, tokens) * rows.expert_params / rows.tp
    weights = (dense * rows.weight_bytes_per_param + experts * rows.expert_weight_bytes_per_param) * frac \
        + rows.lm_head_params / rows.tp * rows.boundary_bytes_per_param
    read = work.decode_tokens * rows.kv_read_bytes if work.decode_kv_read_bytes is None else work.decode_kv_read_bytes
    kv = read * frac / kv_split(rows)
    return weights, kv


def smooth_roofline_s(compute_s: np.ndarray, memory_s: np.ndarray, sharpness: float) -> np.ndarray:
    """Returns (t_c^p + t_m^p)^(1/p): the max of the two when p is large, their sum when p = 1."""
    scale = np.maximum(np.maximum(compute_s, memory_s), 1e-30)
    return scale * ((compute_s / scale) ** sharpness + (memory_s / scale) ** sharpness) ** (1.0 / sharpness)


def stage_compute_memory_s(rows: RowInputs, params: CostParams, work: StageWork) -> tuple[np.ndarray, np.ndarray]:
    """Returns the (compute, memory) seconds of one pass of the most loaded stage, before the roofline joins them."""
    efficiency = np.select([rows.four_bit_compute, rows.narrow_compute],
                           [params.compute_efficiency_4bit, params.compute_efficiency_8bit],
                           params.compute_efficiency_16bit)
    unit_flops_per_s = rows.peak_flops / rows.units_per_device * efficiency
    # Attention kernels run on the weight format's datapath (trtllm-bench builds FP8 engines with
    # use_fp8_context_fmha) but at their own achieved fraction of its peak.
    attention = stage_attention_flops(rows, work)
    attention_flops_per_s = rows.peak_flops / rows.units_per_device * params.attention_compute_efficiency
    compute_s = (stage_flops(rows, work) - attention) / (rows.tp * unit_flops_per_s) \
        + attention / (rows.tp * attention_flops_per_s)
    unit_bytes_per_s = rows.memory_bandwidth_bytes_per_s / rows.units_per_device
    weights, kv = stage_traffic_bytes_per_unit(rows, work)
    memory_s = weights / (unit_bytes_per_s * params.bandwidth_efficiency) \
        + kv / (unit_bytes_per_s * params.attention_bandwidth_efficiency)
    return compute_s, memory_s


def stage_comm_s(rows: RowInputs, params: CostParams, tokens: np.ndarray) -> np.ndarray:
    """Returns the seconds of one stage pass's TP all-reduces for `tokens` tokens (0 without TP)."""
    message = tokens * rows.hidden_size * params.activation_bytes_per_element
    # Megatron-style TP: an all-reduce after attention and after the MLP (one for parallel blocks).
    allreduces = rows.allreduces_per_layer * layers_per_stage(rows)
    return np.where(rows.tp > 1, allreduces * tp_allreduce_time_s(rows, message, params), 0.0)


def stage_time_s(rows: RowInputs, params: CostParams, work: StageWork) -> np.ndarray:
    """Returns the seconds of one pass of the most loaded stage: roofline + TP all-reduces + layer overheads."""
    compute_s, memory_s = stage_compute_memory_s(rows, params, work)
    comm_s = stage_comm_s(rows, params, work.decode_tokens + work.prefill_tokens)
    return smooth_roofline_s(compute_s, memory_s, params.roofline_sharpness) + comm_s \
        + layers_per_stage(rows) * params.layer_overhead_s


def pass_latency_s(rows: RowInputs, params: CostParams, work: StageWork) -> np.ndarray:
    """Returns the seconds for `work` to cross every stage: stages, transfers, step and sequence overheads.

    Each pipeline rank runs its own engine iteration (scheduling, buffers, and on the last
    stage sampling), so the per-iteration overhead is paid at every stage, in sequence. Each
    sequence that emits a token in the pass adds its own cost once (its logits, sampling and
    request bookkeeping), which no batch amortizes.
    """
    tokens = work.decode_tokens + work.prefill_tokens
    message = tokens * rows.hidden_size * params.activation_bytes_per_element
    transfers = (rows.pp - 1.0) * pp_transfer_time_s(rows, message, params)
    sequences_s = (work.decode_tokens + work.prefill_sequences) * params.sequence_overhead_s
    return rows.pp * (stage_time_s(rows, params, work) + params.step_overhead_s) + transfers + sequences_s


def decode_cycle_s(rows: RowInputs, params: CostParams, batch: np.ndarray,
                   prefill_tokens_per_token: np.ndarray) -> np.ndarray:
    """Returns the seconds between two tokens of one sequence: the TPOT, with `batch` sequences per replica.

    The batch splits into min(PP, batch) micro-batches; each decode token of each sequence
    also brings `prefill_tokens_per_token` prompt tokens of prefill work (continuous
    batching mixes prefill chunks into decode steps; 0 for a pure decode step). The cycle is
    the micro-batch's latency across all stages, which is at least the busy time of the
    slowest stage (micro-batches x stage time), since micro-batches <= stages.
    """
    micro = np.maximum(np.minimum(rows.pp, batch), 1.0)
    size = batch / micro
    prefill = size * prefill_tokens_per_token
    work = StageWork(decode_tokens=size, prefill_tokens=prefill,
                     prefill_sequences=prefill / np.maximum(rows.input_len, 1.0))
    return pass_latency_s(rows, params, work)


def prefill_time_s(rows: RowInputs, params: CostParams, sequences: np.ndarray,
                   running: np.ndarray) -> np.ndarray:
    """Returns the seconds to prefill `sequences` whole prompts alongside `running` decode tokens."""
    work = StageWork(decode_tokens=running, prefill_tokens=sequences * rows.input_len, prefill_sequences=sequences)
    return pass_latency_s(rows, params, work)
