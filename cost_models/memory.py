"""Memory per device, term by term, for arrays of rows (see docs/cost-model.md, section 1).

A "unit" is what a TP degree counts: a GPU, or one RNGD PE. A "device" is a GPU or an
RNGD card of 8 PEs that share its memory. Figures are for the most loaded device: the
pipeline stage with the most layers plus the larger of the embedding and the LM head.
"""
from __future__ import annotations

import numpy as np

from dataclasses import replace

from cost_models.inputs import RowInputs, take_inputs
from cost_models.params import CostParams

#: Bytes of one logit: engines keep logits in fp32 for sampling.
LOGIT_BYTES = 4.0


def layers_per_stage(rows: RowInputs) -> np.ndarray:
    """Returns the decoder layers of the most loaded pipeline stage (layers split as evenly as possible)."""
    return np.ceil(rows.num_layers / rows.pp)


def stage_fraction(rows: RowInputs) -> np.ndarray:
    """Returns the most loaded stage's share of the decoder layers (1 without PP)."""
    return layers_per_stage(rows) / rows.num_layers


def attention_tp(rows: RowInputs) -> np.ndarray:
    """Returns the units one attention group splits attention over: tp / adp (tp without attention DP)."""
    return rows.tp / rows.adp


def moe_tp(rows: RowInputs) -> np.ndarray:
    """Returns the units one routed expert is split over: tp / ep (tp without expert parallel)."""
    return rows.tp / rows.ep


def plain_tp(rows: RowInputs) -> np.ndarray:
    """Returns True where a row is plain tensor parallel (ep = adp = 1): today's formulas, bit for bit."""
    return (rows.ep == 1.0) & (rows.adp == 1.0)


def routed_params(rows: RowInputs) -> np.ndarray:
    """Returns the stored routed-expert parameters over all layers (every expert of every MoE layer)."""
    return rows.moe_layers * rows.num_experts * rows.expert_params


def kv_split(rows: RowInputs) -> np.ndarray:
    """Returns how many ways the KV heads split: attention TP, but never below one head per unit; 1 for MLA."""
    return np.where(rows.kv_shardable, np.minimum(attention_tp(rows), rows.kv_heads), 1.0)


def units_on_device(rows: RowInputs) -> np.ndarray:
    """Returns the units of one TP group that sit on one device (1 per GPU; up to 8 PEs per RNGD card)."""
    return np.minimum(rows.tp, rows.units_per_device)


def devices_used(rows: RowInputs) -> np.ndarray:
    """Returns the devices a layout occupies, counted as `autotune.specs.candidates.devices_used` counts them.

    TP groups of at least a device take ceil(tp / units) devices each: dp x pp x that. Smaller
    groups (RNGD TP 1, 2, 4) pack units // tp to a card, one pipeline stage per card (the
    runtime's mesh): pp x ceil(dp / groups per card).
    """
    whole = rows.dp * rows.pp * np.ceil(rows.tp / rows.units_per_device)
    per_device = np.maximum(np.floor(rows.units_per_device / rows.tp), 1.0)
    packed = rows.pp * np.ceil(rows.dp / per_device)
    return np.where(rows.tp >= rows.units_per_device, whole, packed)


def groups_per_device(rows: RowInputs) -> np.ndarray:
    """Returns the TP groups (stage shards of replicas) on the most loaded device: 1 unless TP < units."""
    per_device = np.maximum(np.floor(rows.units_per_device / rows.tp), 1.0)
    packed = np.minimum(per_device, np.ceil(rows.dp * rows.pp / devices_used(rows)))
    return np.where(rows.tp < rows.units_per_device, packed, 1.0)


def stages_per_device(rows: RowInputs) -> np.ndarray:
    """Returns the distinct pipeline stages whose weights one device holds: one, as `devices_used` places them."""
    return np.ones_like(rows.tp, dtype=float)


def kv_split_on_device(rows: RowInputs) -> np.ndarray:
    """Returns how many ways the KV heads split across the devices of one TP group (1 for MLA).

    Memory belongs to the device: the PEs of one RNGD card read the same HBM, so a KV head
    (and its K/V projection) that several PEs of a card attend with is stored once per card,
    not once per PE. Across devices a head is stored wherever it is used. On a GPU (one unit
    per device) this is `kv_split`. Furiosa's 2026.4 kernels require the KV heads to divide
    the chips of a TP group (furiosa-llm.md section 2), i.e. heads are split per card.
    """
    devices_per_group = np.ceil(attention_tp(rows) / rows.units_per_device)
    return np.where(rows.kv_shardable, np.minimum(devices_per_group, rows.kv_heads), 1.0)


def weight_params_on_device(rows: RowInputs) -> tuple[np.ndarray, np.ndarray]:
    """Returns (decoder-layer, embedding/head) parameters one device of the most loaded stage stores, per TP group.

    Layer weights split by TP, except K/V projections, which split only down to one KV
    head per device (`kv_split_on_device`). The first stage holds the embedding, the last the
    final norm and LM head (and a copy of tied embeddings for the head when PP > 1).
    With attention DP every attention group holds its own copy of the non-routed layer weights
    (attention, norms, router, shared experts, dense MLPs), split over tp / adp units; the routed
    experts split E / ep whole experts per EP group, each over tp / ep units, which is again
    1 / tp of them per unit.
    """
    frac = stage_fraction(rows)
    share = units_on_device(rows) / rows.tp
    layers = ((rows.layer_params - rows.kv_proj_params) * frac * share
              + rows.kv_proj_params * frac / kv_split_on_device(rows))
    # Attention DP: the non-routed weights split tp / adp ways instead of tp (zero extra when adp = 1).
    atp = attention_tp(rows)
    nonrouted = rows.layer_params - routed_params(rows) - rows.kv_proj_params
    layers = layers + nonrouted * frac * (np.minimum(atp, rows.units_per_device) / atp - share)
    single = (rows.embedding_params + rows.final_params) * share
    boundary = np.maximum(rows.embedding_params, rows.final_params + rows.tied_head_params) * share
    return layers, np.where(rows.pp > 1, boundary, single)


def weights_bytes(rows: RowInputs) -> np.ndarray:
    """Returns the weight bytes on the most loaded device.

    DP replicas on the same RNGD card share one copy of the weights (shared HBM, Furiosa
    2024.2 Model Parallelism docs), so a card holds one copy of each stage it serves.
    """
    layers, boundary = weight_params_on_device(rows)
    # Routed experts are split like the other non-K/V layer weights; a mixed checkpoint prices them apart.
    experts = rows.moe_layers * rows.num_experts * rows.expert_params * stage_fraction(rows) \
        * units_on_device(rows) / rows.tp
    per_group = layers * rows.weight_bytes_per_param + boundary * rows.boundary_bytes_per_param \
        + experts * (rows.expert_weight_bytes_per_param - rows.weight_bytes_per_param)
    return per_group * stages_per_device(rows)


def kv_bytes_per_sequence(rows: RowInputs) -> np.ndarray:
    """Returns the KV-cache bytes one sequence of the replica's batch adds to the most loaded device, at full context.

    Attention DP splits the batch by request over `adp` groups; a device holds the KV of its
    group's sequences only, 1 / adp of the replica's per sequence.
    """
    per_group = rows.kv_sequence_bytes * stage_fraction(rows) / kv_split_on_device(rows) / rows.adp
    return per_group * groups_per_device(rows)


def kv_cache_bytes(rows: RowInputs) -> np.ndarray:
    """Returns the KV-cache bytes on the most loaded device for `rows.batch` sequences per replica."""
    return rows.batch * kv_bytes_per_sequence(rows)


def _activation_bytes(rows: RowInputs, params: CostParams, tokens: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """`tokens`: one attention group's step (the replica's without attention DP), its sharded width over tp / adp."""
    width = rows.activation_width_replicated + rows.activation_width_sharded / attention_tp(rows)
    per_unit = tokens * width * params.activation_bytes_per_element + batch * rows.vocab_size / rows.tp * LOGIT_BYTES
    return per_unit * units_on_device(rows) * groups_per_device(rows)


def activation_bytes(rows: RowInputs, params: CostParams) -> np.ndarray:
    """Returns the workspace bytes for the largest prefill chunk plus the batch's fp32 logits.

    The chunk is the batch's prompts, capped at the engine's activation workspace
    (`rows.activation_tokens`, the engine's max_num_tokens): live tensors of one layer (residual copies, QKV, FFN
    intermediates) per token. Under attention DP each group's step holds its share of the prompts,
    batch / adp of them, and `activation_tokens` caps each group's step (TensorRT-LLM's
    max_num_tokens is per rank).
    """
    tokens = np.minimum(rows.batch / rows.adp * rows.input_len, rows.activation_tokens)
    return _activation_bytes(rows, params, tokens, rows.batch)


def _engine_bytes(rows: RowInputs) -> np.ndarray:
    """Returns the runtime reserve plus communication buffers (TP > 1) on one device."""
    return rows.runtime_reserve_bytes + np.where(rows.tp > 1, rows.comm_buffer_bytes, 0.0)


def reserved_bytes(rows: RowInputs, params: CostParams) -> np.ndarray:
    """Returns the runtime reserve, communication buffers (TP > 1) and the engine's unused headroom.

    The headroom is `memory_headroom_fraction` of the memory left after weights, activations
    and the runtime: engines hand only the rest to the KV cache (TensorRT-LLM
    free_gpu_memory_fraction 0.9 of free memory).
    """
    engine = _engine_bytes(rows)
    free = rows.memory_capacity_bytes - weights_bytes(rows) - _workspace_bytes(rows, params) - engine
    return engine + rows.memory_headroom_fraction * np.maximum(free, 0.0)


def _workspace_bytes(rows: RowInputs, params: CostParams) -> np.ndarray:
    """Returns the activation workspace at its full engine size (no logits)."""
    return _activation_bytes(rows, params, rows.activation_tokens, 0.0)


def total_bytes(rows: RowInputs, params: CostParams) -> np.ndarray:
    """Returns the bytes on the most loaded device at `rows.batch`: weights, KV cache, activations and reserve."""
    return weights_bytes(rows) + kv_cache_bytes(rows) + activation_bytes(rows, params) + reserved_bytes(rows, params)


def largest_fitting_batch(rows: RowInputs, params: CostParams) -> np.ndarray:
    """Returns the largest batch per replica whose `total_bytes` fits every device (0: not one sequence).

    Exact: the activation workspace grows with the batch only until the engine's step holds
    `activation_tokens`, so the answer lies between the batch that fits with the full workspace
    (a lower bound) and the one whose KV cache and logits alone fill the free memory (an upper
    bound); the integers between are bisected on `total_bytes` itself.
    """
    fixed = weights_bytes(rows) + reserved_bytes(rows, params)
    logits_per_sequence = _activation_bytes(rows, params, np.zeros(len(rows)), 1.0)
    per_sequence = np.maximum(kv_bytes_per_sequence(rows) + logits_per_sequence, 1e-9)
    free = np.maximum(rows.memory_capacity_bytes - fixed, 0.0)
    lower = np.floor(np.maximum(free - _workspace_bytes(rows, params), 0.0) / per_sequence)
    good = np.minimum(lower, 1e7)
    bad = np.minimum(np.floor(free / per_sequence), 1e7) + 1.0
    # Most rows are settled by one probe: one more sequence than the lower bound does not fit.
    probe = np.minimum(good + 1.0, bad)
    fits = total_bytes(replace(rows, batch=np.maximum(probe, 1.0)), params) <= rows.memory_capacity_bytes
    settled = ~fits & (probe < bad)
    bad = np.where(settled, probe, bad)
    good = np.where(fits & (probe < bad), probe, good)
    while True:
        open_ = np.flatnonzero(bad - good > 1)
        if len(open_) == 0:
            return good.astype(np.int64)
        mid = np.floor((good[open_] + bad[open_]) / 2.0)
        subset = take_inputs(rows, open_)
        ok = total_bytes(replace(subset, batch=mid), params) <= subset.memory_capacity_bytes
        good[open_[ok]] = mid[ok]
        bad[open_[~ok]] = mid[~ok]


def max_batch(rows: RowInputs, params: CostParams) -> np.ndarray:
    """Returns the largest batch per replica that fits every device (0: not one sequence), the engine cap applied.

    The cap (`params.max_batch_per_replica`) is the batch ceiling of the engine the measurements
    ran (trtllm-bench); the search uses `largest_fitting_batch` and the runtime's own rules.
    """
    return np.minimum(largest_fitting_batch(rows, params), params.max_batch_per_replica).astype(np.int64)
