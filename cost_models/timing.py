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
from cost_models.memory import attention_tp, kv_split, layers_per_stage, moe_tp, plain_tp, stage_fraction
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
    steady_state: bool | np.ndarray = False
    """Attention DP only: True for a step of continuous batching in steady state (prompts mixed into the
    decode steps), where every group
    decodes and prefills its own share of the requests and the busiest group carries
    1 / rows.adp_balance_ratio times the mean; False when whole sequences and prompts are dealt
    out (ceil(count / adp) on the busiest group)."""
    prefill_prompts: np.ndarray | None = None
    """Attention DP only, dealt out whole: the prompts the prefill tokens belong to, each prefilled by one
    group (None: `prefill_sequences`, the prompts that end in this pass). The serving simulator knows
    them: a chunk that does not end its prompt still sits on one group."""


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


def _busiest_share(count: np.ndarray, adp: np.ndarray) -> np.ndarray:
    """Returns adp x the busiest attention group's share of `count` items dealt out whole (1: an even split).

    The busiest of adp groups holds ceil(count / adp) items, or all of them when fewer than one
    (a fraction of one prompt). Times adp, so that dividing the replica's work by tp units gives
    the busiest group's per-unit work.
    """
    count = np.asarray(count, dtype=np.float64)
    busiest = np.minimum(np.ceil(count / adp - 1e-9), count)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(count > 0, busiest * adp / count, 1.0)
    return np.where(adp > 1.0, share, 1.0)


def attention_group_factors(rows: RowInputs, work: StageWork) -> tuple[np.ndarray, np.ndarray]:
    """Returns (decode, prefill) multipliers of the replica's attention-side work for its busiest group.

    Attention DP deals sequences out to adp groups; a step waits for the busiest (the groups meet
    at every MoE layer). Sequences and prompts are dealt whole (`_busiest_share`). In a steady
    state of in-flight batching (`work.steady_state`) the groups are as balanced as the engine
    keeps them: the busiest carries the mean over `rows.adp_balance_ratio` (measured by TensorRT-LLM,
    `inputs.ADP_BALANCE_RATIO_ROUND_ROBIN` and `_BALANCED`), never less than its
    whole sequences. Both are 1 without attention DP.
    """
    decode = _busiest_share(work.decode_tokens, rows.adp)
    steady = np.where(rows.adp > 1.0, 1.0 / rows.adp_balance_ratio, 1.0)
    decode = np.where(work.steady_state, np.maximum(decode, steady), decode)
    prompts = work.prefill_sequences if work.prefill_prompts is None else work.prefill_prompts
    prefill = np.where(work.steady_state, steady, _busiest_share(prompts, rows.adp))
    return decode, prefill


def ep_load_imbalance(rows: RowInputs, assignments: np.ndarray) -> np.ndarray:
    """Returns the busiest EP group's load over the mean for `assignments` uniform top-k choices (1 when ep = 1).

    Balls into bins (Raab and Steger, "Balls into Bins - A Simple and Tight Analysis", RANDOM 1998,
    Theorem 1): m balls thrown uniformly into n bins leave the fullest with m/n + sqrt(2 (m/n) ln n)
    for m >= n ln n. Here the bins are the ep groups (each holds E / ep experts, so a uniform
    router picks each group alike) and the balls the (token, expert) choices: the ratio is
    1 + sqrt(2 n ln n / m), never below n / m (the fullest group holds at least one choice) and
    never above n (it holds every choice). Real
    routers are skewed beyond uniform (the reason for DeepSeek's EPLB), so this is a lower bound.
    """
    n = rows.ep
    m = np.maximum(np.asarray(assignments, dtype=np.float64), 1e-9)
    ratio = np.maximum(1.0 + np.sqrt(2.0 * n * np.log(np.maximum(n, 1.0)) / m), n / m)
    return np.where(n > 1.0, np.minimum(ratio, n), 1.0)


def stage_flops(rows: RowInputs, work: StageWork,
                factors: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Returns the FLOPs of one pass of the most loaded stage (which also holds the LM head).

    2 FLOPs per multiply-accumulate per active parameter per token; attention scores and
    values per attended token; the LM head for every decode token and each prompt's last token.
    """
    tokens = work.decode_tokens + work.prefill_tokens
    active = rows.dense_active_params + rows.moe_layers * rows.experts_per_token * rows.expert_params
    decode, prefill = _attention_flops(rows, work)
    layers = 2.0 * active * tokens + decode + prefill
    head = 2.0 * rows.lm_head_params * (work.decode_tokens + work.prefill_sequences)
    return np.where(plain_tp(rows), layers * stage_fraction(rows) + head, _moe_parallel_flops(rows, work, factors))


def _moe_parallel_flops(rows: RowInputs, work: StageWork,
                        factors: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Returns `stage_flops` under EP / attention DP: the busiest attention group and the busiest EP group.

    Attention-side work (the non-routed weights and attention scores) counts the busiest
    attention group's tokens (`attention_group_factors`); routed-expert work counts every token
    of the pass times the EP load imbalance (`ep_load_imbalance`) of its tokens x top-k choices.
    Both are scaled so that dividing by tp units gives the busiest unit's work. `factors`: the pass's
    `attention_group_factors`, when the caller has them.
    """
    f_decode, f_prefill = attention_group_factors(rows, work) if factors is None else factors
    tokens = work.decode_tokens + work.prefill_tokens
    busy_tokens = work.decode_tokens * f_decode + work.prefill_tokens * f_prefill
    decode, prefill = _attention_flops(rows, work)
    routed = rows.moe_layers * rows.experts_per_token * rows.expert_params
    imbalance = ep_load_imbalance(rows, tokens * rows.experts_per_token)
    layers = 2.0 * rows.dense_active_params * busy_tokens + 2.0 * routed * tokens * imbalance \
        + decode * f_decode + prefill * f_prefill
    head = 2.0 * rows.lm_head_params * (work.decode_tokens + work.prefill_sequences)
    return layers * stage_fraction(rows) + head


def stage_attention_flops(rows: RowInputs, work: StageWork,
                          factors: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Returns the attention score and value FLOPs of one pass of the most loaded stage (part of `stage_flops`)."""
    decode, prefill = _attention_flops(rows, work)
    f_decode, f_prefill = attention_group_factors(rows, work) if factors is None else factors
    plain = plain_tp(rows)
    return np.where(plain, (decode + prefill) * stage_fraction(rows),
                    (decode * f_decode + prefill * f_prefill) * stage_fraction(rows))


def stage_traffic_bytes_per_unit(rows: RowInputs, work: StageWork,
                                 factors: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Returns the bytes one TP unit reads in one stage pass: (weights it uses, KV cache).

    Dense weights are read once per pass whatever the token count; a MoE layer reads only
    the experts its tokens touch; the LM head is read whole; the embedding only by rows.
    """
    frac = stage_fraction(rows)
    tokens = work.decode_tokens + work.prefill_tokens
    # Attention DP: the non-routed weights are split tp / adp ways (attention_tp = tp without it).
    dense = (rows.dense_active_params - rows.kv_proj_params) / attention_tp(rows) \
        + rows.kv_proj_params / kv_split(rows)
    experts = rows.moe_layers * expected_experts_touched(rows, tokens) * rows.expert_params / rows.tp
    experts = np.where(rows.ep > 1.0, _busiest_ep_expert_reads(rows, tokens), experts)
    weights = (dense * rows.weight_bytes_per_param + experts * rows.expert_weight_bytes_per_param) * frac \
        + rows.lm_head_params / rows.tp * rows.boundary_bytes_per_param
    read = work.decode_tokens * rows.kv_read_bytes if work.decode_kv_read_bytes is None else work.decode_kv_read_bytes
    # A device reads the KV of its attention group's sequences only: the busiest group's share.
    f_decode, _ = attention_group_factors(rows, work) if factors is None else factors
    kv = read * frac / kv_split(rows)
    kv = np.where(rows.adp > 1.0, kv * f_decode / rows.adp, kv)
    return weights, kv


def _busiest_ep_expert_reads(rows: RowInputs, tokens: np.ndarray) -> np.ndarray:
    """Returns the routed-expert parameters one unit of the busiest EP group reads in one pass, all layers.

    The pass touches `expected_experts_touched` distinct experts, spread over ep groups like
    balls into bins (`ep_load_imbalance` of that count); a group holds at most E / ep of them,
    each split over tp / ep units.
    """
    touched = expected_experts_touched(rows, tokens)
    per_group = np.minimum(touched / rows.ep * ep_load_imbalance(rows, touched), rows.num_experts / rows.ep)
    return rows.moe_layers * per_group * rows.expert_params / moe_tp(rows)


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
    factors = attention_group_factors(rows, work)  # once for the three terms that use them
    attention = stage_attention_flops(rows, work, factors)
    attention_flops_per_s = rows.peak_flops / rows.units_per_device * params.attention_compute_efficiency
    compute_s = (stage_flops(rows, work, factors) - attention) / (rows.tp * unit_flops_per_s) \
        + attention / (rows.tp * attention_flops_per_s)
    unit_bytes_per_s = rows.memory_bandwidth_bytes_per_s / rows.units_per_device
    weights, kv = stage_traffic_bytes_per_unit(rows, work, factors)
    memory_s = weights / (unit_bytes_per_s * params.bandwidth_efficiency) \
        + kv / (unit_bytes_per_s * params.attention_bandwidth_efficiency)
    return compute_s, memory_s


def stage_comm_s(rows: RowInputs, params: CostParams, tokens: np.ndarray) -> np.ndarray:
    """Returns the seconds of one stage pass's TP all-reduces for `tokens` tokens (0 without TP)."""
    message = tokens * rows.hidden_size * params.activation_bytes_per_element
    # Megatron-style TP: an all-reduce after attention and after the MLP (one for parallel blocks).
    allreduces = rows.allreduces_per_layer * layers_per_stage(rows)
    plain = np.where(rows.tp > 1, allreduces * tp_allreduce_time_s(rows, message, params), 0.0)
    return np.where(plain_tp(rows), plain, _moe_parallel_comm_s(rows, params, tokens))


def _moe_parallel_comm_s(rows: RowInputs, params: CostParams, tokens: np.ndarray) -> np.ndarray:
    """Returns the seconds of one stage pass's collectives under EP / attention DP, for `tokens` replica tokens.

    Per layer: the attention all-reduce inside each attention group (tp / adp units, its
    tokens / adp tokens). Then the MLP or MoE side, whatever `ep`, one ring all-reduce of the
    replica's tokens over the tp units:
    - no attention DP (adp = 1): every unit holds every token after the attention all-reduce, so
      a MoE layer, with or without EP, computes its local experts' share of every token and ends
      in one all-reduce, as plain TP does (TensorRT-LLM TP + EP without attention DP; vLLM EP
      without DP);
    - attention DP: the groups' tokens are all-gathered over the tp units before the dense MLP or
      MoE layer and its outputs reduce-scattered after it, which moves what one ring all-reduce
      moves (a ring all-reduce is a reduce-scatter then an all-gather). This is what the engines
      run on one machine by default, EP or not: TensorRT-LLM's CUTLASS MoE with attention DP
      (NVIDIA/TensorRT-LLM@000a01de66f0eab4ab05640711f0253f50f5209c,
      tensorrt_llm/_torch/modules/fused_moe/fused_moe_cutlass.py: `run_post_quant_allgather`
      then `reducescatter_or_allreduce`; its later all-to-all methods need GB200 multi-node
      NVLink or an opt-in DeepEP), vLLM (`VLLM_ALL2ALL_BACKEND` defaults to
      "allgather_reducescatter", docs.vllm.ai/en/stable/configuration/env_vars) and SGLang's DP
      attention (DeepEP only with `--moe-a2a-backend deepep`). An all-to-all dispatch and
      combine (DeepEP) is not modelled: it would send fewer bytes.
    """
    layers = layers_per_stage(rows)
    message = tokens * rows.hidden_size * params.activation_bytes_per_element
    atp = attention_tp(rows)
    attention = np.where(atp > 1.0, tp_allreduce_time_s(rows, message / rows.adp, params, units=atp), 0.0)
    mlp = np.where(rows.tp > 1.0, tp_allreduce_time_s(rows, message, params), 0.0)
    attention_allreduces = np.maximum(rows.allreduces_per_layer - 1.0, 0.0)
    return layers * (attention_allreduces * attention + mlp)


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
                     prefill_sequences=prefill / np.maximum(rows.input_len, 1.0),
                     steady_state=np.asarray(prefill_tokens_per_token) > 0)
    return pass_latency_s(rows, params, work)


def prefill_time_s(rows: RowInputs, params: CostParams, sequences: np.ndarray,
                   running: np.ndarray) -> np.ndarray:
    """Returns the seconds to prefill `sequences` whole prompts alongside `running` decode tokens."""
    work = StageWork(decode_tokens=running, prefill_tokens=sequences * rows.input_len, prefill_sequences=sequences)
    return pass_latency_s(rows, params, work)
