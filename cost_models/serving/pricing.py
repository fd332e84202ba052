"""The time of one engine step for an exact mix of work, from the cost model's own functions.

A step carries `d` decode tokens (each at its own context), `p` prefill tokens (chunks at their
own positions) and `s` prompts that end in it. `timing.pass_latency_s` prices such a step when
its StageWork carries the step's attention FLOPs and KV reads. The simulator asks for hundreds
of thousands of steps, so `StepPricer` takes the cost model apart once per layout:

- compute seconds are linear in (d, p, s, attention FLOPs): their coefficients are
  `timing.stage_compute_memory_s` evaluated on unit mixes;
- memory seconds are the weights a pass reads (a function of its tokens only: MoE experts
  touched) plus a coefficient times the KV bytes read;
- TP all-reduces and PP transfers are functions of the micro-batch's tokens: tables over every
  token count a step can hold, for each micro-batch count up to PP;
- the roofline joins compute and memory exactly as `timing.smooth_roofline_s` does;
- under expert parallel or attention DP (`ep`, `adp` > 1) compute is not linear in the counts (the
  busiest attention group holds ceil(n / adp) of the step's sequences, each prompt on one group; the
  busiest EP group the balls-into-bins maximum): `StepPricer._moe_terms` evaluates `timing` once per
  distinct (decode, prefill, ending, prompts) mix, and the step stays linear in its attended pairs.

Contexts enter as "attended pairs": the sum over tokens of the (layer, position) pairs attended,
`attended(c) = full layers x c + window layers x min(c, window)`. Attention FLOPs and KV bytes
are the per-pair figures of `build_inputs` times that sum, so the same facts price both paths.
PP semantics are `timing.decode_cycle_s`'s: the step's sequences split into min(PP, sequences)
micro-batches, and the step (one token for every running sequence) lasts one micro-batch's
latency across all stages.
"""
from __future__ import annotations

import copy

import math
from dataclasses import dataclass, replace

import numpy as np

from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from cost_models import memory, timing
from cost_models.comm import pp_transfer_time_s
from cost_models.inputs import RowInputs, build_inputs, take_inputs
from cost_models.params import CostParams


@dataclass(frozen=True, kw_only=True)
class Attention:
    """How many layers attend to the whole context and how many to a window of it."""

    full_layers: int
    window_layers: int
    window: int
    """Tokens a window layer attends to (0 when there is none)."""

    def pairs(self, context: int) -> float:
        """Returns the (layer, position) pairs one token at `context` attends to, all layers."""
        if self.window_layers:
            return float(self.full_layers * context + self.window_layers * min(context, self.window))
        return float(self.full_layers * context)

    def prefill_pairs(self, start: int, end: int) -> float:
        """Returns the pairs attended by prompt positions [start, end) (causal; a whole prompt of I gives L I^2 / 2)."""
        full = (end * end - start * start) / 2.0
        if not self.window_layers:
            return self.full_layers * full
        w = self.window
        if end <= w:
            capped = full
        elif start >= w:
            capped = float(w * (end - start))
        else:
            capped = (w * w - start * start) / 2.0 + w * (end - w)
        return self.full_layers * full + self.window_layers * capped


def attention_of(model: ModelSpec, hardware: HardwareSpec, params: CostParams) -> Attention:
    """Returns the model's attention layout, with windows only where the runtime caps them (`sliding_window_kv`)."""
    windowed = params.per_hardware("sliding_window_kv", hardware.name) > 0
    if windowed and model.sliding_window and any(model.sliding_layers):
        window_layers = sum(1 for s in model.sliding_layers if s)
        return Attention(full_layers=model.num_layers - window_layers, window_layers=window_layers,
                         window=int(model.sliding_window))
    return Attention(full_layers=model.num_layers, window_layers=0, window=0)


def layout_rows(model: ModelSpec, hardware: HardwareSpec, *, dtype: str, kv_dtype: str, tp: int, pp: int,
                input_len: int, output_len: int, params: CostParams, ep: int = 1, adp: int = 1,
                adp_balanced: bool = False) -> RowInputs:
    """Returns the cost model's inputs for one replica layout (one row; `ep`, `adp`: its MoE degrees)."""
    one = np.ones(1)
    return build_inputs(model, hardware, input_len=input_len, output_len=output_len, dtype=dtype,
                        kv_dtype=kv_dtype, tp=one * tp, pp=one * pp, dp=one, batch=one, params=params,
                        ep=one * ep, adp=one * adp, adp_balanced=np.array([adp_balanced]))


#: Step tokens a pricer's tables cover when built (`StepPricer._tables`); they grow to the steps priced.
TABLE_START_TOKENS = 4096


class StepPricer:
    """Seconds of one engine step of one replica layout, exact to the cost model, in O(1) per step."""

    def __init__(self, rows: RowInputs, params: CostParams, *, attention: Attention, unit_rows: RowInputs,
                 max_tokens: int) -> None:
        """`rows`: the layout (one row); `unit_rows`: the same at a 1-token context; `max_tokens`: largest step."""
        self.rows = rows
        self.params = params
        self.attention = attention
        self.pp = int(rows.pp[0])
        self.max_tokens = int(max_tokens)
        layers = float(rows.num_layers[0])
        # One token at context 1 attends one position in every layer: the per-pair figures.
        self.flops_per_pair = float(unit_rows.attention_decode_flops[0]) / layers
        self.kv_bytes_per_pair = float(unit_rows.kv_read_bytes[0]) / layers
        self.kv_device_bytes_per_pair = float(memory.kv_bytes_per_sequence(unit_rows)[0]) / layers
        self.sharpness = float(params.roofline_sharpness)
        self.sequence_overhead_s = float(params.sequence_overhead_s)
        # EP / attention DP: the busiest attention group and EP group make a step's compute non-linear in its
        # counts (`timing.attention_group_factors`, `timing.ep_load_imbalance`); `_moe_terms` prices it. The
        # simulator knows each step's mix, so it deals the step's sequences and prompts out whole (timing's
        # `steady_state=False`): the engines' time-averaged balance ratio would count that imbalance twice.
        self.plain = bool(memory.plain_tp(rows)[0])
        self._moe_cache: dict[tuple[float, float, float, float], tuple[float, float, float, float, float]] = {}
        self._moe_rows = None if self.plain else take_inputs(rows, np.zeros(3, dtype=np.int64))
        self._coefficients()
        self._tables()

    def _coefficients(self) -> None:
        """Compute seconds per decode token, prefill token, ending prompt and attended pair; memory per pair."""
        basis = take_inputs(self.rows, np.zeros(6, dtype=np.int64))
        eye = np.eye(6)
        work = timing.StageWork(decode_tokens=eye[0], prefill_tokens=eye[1], prefill_sequences=eye[2],
                                decode_attention_flops=eye[3] * self.flops_per_pair,
                                decode_kv_read_bytes=eye[4] * self.kv_bytes_per_pair,
                                prefill_attention_flops=eye[5] * self.flops_per_pair)
        compute, mem = timing.stage_compute_memory_s(basis, self.params, work)
        self.c_decode, self.c_prefill, self.c_sequence = float(compute[0]), float(compute[1]), float(compute[2])
        self.c_pair = float(compute[3])
        # Memory of row 4 minus row 5 (same zero tokens, no KV): the KV read's seconds per pair.
        self.m_pair = float(mem[4] - mem[5])

    def _tables(self) -> None:
        """Per micro-batch count m and step tokens T: weights' memory seconds, fixed stage seconds, transfers.

        The tables start at TABLE_START_TOKENS and grow (`_grow`, doubling) to the largest step priced, up to
        max_tokens: a search's pricer is built for its largest budget (131,072 tokens for attention DP 8 under
        a per-rank engine), while its steps rarely reach a few thousand."""
        self._weights_s = [[] for _ in range(self.pp)]
        self._fixed_s = [[] for _ in range(self.pp)]
        self._transfer_s = [[] for _ in range(self.pp)]
        self._grow(min(self.max_tokens, TABLE_START_TOKENS))

    def _grow(self, tokens: int) -> None:
        """Extends the tables (in place: `limited` copies share them) to cover steps of `tokens` tokens."""
        have = len(self._fixed_s[0])
        want = min(max(tokens + 1, 2 * have), self.max_tokens + 1)
        if want <= have:
            return
        pp, n = self.pp, want - have
        m = np.repeat(np.arange(1, pp + 1, dtype=np.float64), n)
        tokens_per_micro = np.tile(np.arange(have, want, dtype=np.float64), pp) / m
        rows = self.rows  # one row: numpy broadcasts it over the (m, T) grid
        zero = np.zeros(len(m))
        work = timing.StageWork(decode_tokens=tokens_per_micro, prefill_tokens=zero, prefill_sequences=zero,
                                decode_attention_flops=zero, decode_kv_read_bytes=zero,
                                prefill_attention_flops=zero)
        _, weights_s = timing.stage_compute_memory_s(rows, self.params, work)
        fixed = timing.stage_comm_s(rows, self.params, tokens_per_micro) \
            + memory.layers_per_stage(rows) * self.params.layer_overhead_s + self.params.step_overhead_s
        message = tokens_per_micro * rows.hidden_size * self.params.activation_bytes_per_element
        transfers = (rows.pp - 1.0) * pp_transfer_time_s(rows, message, self.params)
        for i in range(pp):
            self._weights_s[i].extend(weights_s[i * n:(i + 1) * n].tolist())
            self._fixed_s[i].extend(fixed[i * n:(i + 1) * n].tolist())
            self._transfer_s[i].extend(transfers[i * n:(i + 1) * n].tolist())

    def limited(self, max_tokens: int) -> "StepPricer":
        """Returns this pricer for steps of at most `max_tokens` (no more than its own), sharing its tables and
        cache: a table's entry for T tokens is computed element by element, so it does not depend on the
        table's length, and a step above `max_tokens` is priced exactly, as a pricer built for it would."""
        if max_tokens > self.max_tokens:
            raise ValueError(f"a pricer for {self.max_tokens} tokens cannot price {max_tokens}")
        other = copy.copy(self)
        other.max_tokens = int(max_tokens)
        return other

    def micro_batches(self, sequences: int) -> int:
        """Returns the micro-batches a step of `sequences` splits into: min(PP, sequences), at least 1."""
        return max(1, min(self.pp, sequences))

    def step_s(self, decode: int, prefill: int, ending: int, decode_pairs: float, prefill_pairs: float,
               sequences: int) -> float:
        """Returns the seconds of one step: `decode` + `prefill` tokens, `ending` prompts, attended pairs."""
        tokens = decode + prefill
        if tokens > self.max_tokens:
            return self.exact_s(decode, prefill, ending, decode_pairs, prefill_pairs, sequences)
        if tokens >= len(self._fixed_s[0]):
            self._grow(tokens)
        m = self.micro_batches(sequences)
        i = m - 1
        if self.plain:
            compute = (self.c_decode * decode + self.c_prefill * prefill + self.c_sequence * ending
                       + self.c_pair * (decode_pairs + prefill_pairs)) / m
            mem = self._weights_s[i][tokens] + self.m_pair * decode_pairs / m
        else:
            prompts = max(sequences - decode, ending) if prefill else 0
            c0, c_decode_pair, c_prefill_pair, m0, m_decode_pair = self._moe_terms(decode / m, prefill / m, ending / m,
                                                                                   prompts / m)
            compute = c0 + (c_decode_pair * decode_pairs + c_prefill_pair * prefill_pairs) / m
            mem = m0 + m_decode_pair * decode_pairs / m
        return self.pp * (self._roofline(compute, mem) + self._fixed_s[i][tokens]) + self._transfer_s[i][tokens] \
            + (decode + ending) / m * self.sequence_overhead_s

    def decode_segment(self, decode: int, decode_pairs: float, pairs_per_step: float) -> tuple[float, float]:
        """Returns (first step seconds, increase per step) of pure decode steps whose pairs grow linearly.

        Exact when the roofline is a sum (sharpness 1, the fitted value); otherwise the increase is the
        secant over one step and callers keep such segments short (see `linear`).
        """
        first = self.step_s(decode, 0, 0, decode_pairs, 0.0, decode)
        second = self.step_s(decode, 0, 0, decode_pairs + pairs_per_step, 0.0, decode)
        return first, second - first

    def _moe_terms(self, decode: float, prefill: float, ending: float,
                   prompts: float) -> tuple[float, float, float, float, float]:
        """Returns one micro-batch's (compute s at no attended pairs, compute s per decode pair, per prefill pair,
        memory s at no pairs, memory s per decode pair) under EP / attention DP, from `timing` itself.

        Given the counts, the busiest groups' factors are fixed, so compute and memory are linear in the
        attended pairs: three rows of `timing.stage_compute_memory_s` (no pairs, one decode pair, one
        prefill pair) give the step exactly. Cached per (decode, prefill, ending, prompts): steps repeat
        their mixes.
        """
        key = (decode, prefill, ending, prompts)
        terms = self._moe_cache.get(key)
        if terms is None:
            rows = self._moe_rows
            zero = np.zeros(3)
            work = timing.StageWork(decode_tokens=zero + decode, prefill_tokens=zero + prefill,
                                    prefill_sequences=zero + ending,
                                    decode_attention_flops=np.array([0.0, self.flops_per_pair, 0.0]),
                                    decode_kv_read_bytes=np.array([0.0, self.kv_bytes_per_pair, 0.0]),
                                    prefill_attention_flops=np.array([0.0, 0.0, self.flops_per_pair]),
                                    prefill_prompts=zero + prompts)
            compute, mem = timing.stage_compute_memory_s(rows, self.params, work)
            terms = (float(compute[0]), float(compute[1] - compute[0]), float(compute[2] - compute[0]),
                     float(mem[0]), float(mem[1] - mem[0]))
            self._moe_cache[key] = terms
        return terms

    @property
    def linear(self) -> bool:
        """True when a step's seconds are linear in its attended pairs (roofline sharpness 1)."""
        return self.sharpness == 1.0

    def _roofline(self, compute: float, mem: float) -> float:
        if self.sharpness == 1.0:
            return compute + mem
        scale = max(compute, mem, 1e-30)
        p = self.sharpness
        return scale * ((compute / scale) ** p + (mem / scale) ** p) ** (1.0 / p)

    def exact_s(self, decode: float, prefill: float, ending: float, decode_pairs: float, prefill_pairs: float,
                sequences: int) -> float:
        """Returns `timing.pass_latency_s` of the step's micro-batch (the reference the fast path equals)."""
        m = float(self.micro_batches(sequences))

        def arr(value: float) -> np.ndarray:
            return np.array([value / m], dtype=np.float64)

        work = timing.StageWork(decode_tokens=arr(decode), prefill_tokens=arr(prefill),
                                prefill_sequences=arr(ending),
                                decode_attention_flops=arr(decode_pairs * self.flops_per_pair),
                                decode_kv_read_bytes=arr(decode_pairs * self.kv_bytes_per_pair),
                                prefill_attention_flops=arr(prefill_pairs * self.flops_per_pair),
                                prefill_prompts=arr(max(sequences - decode, ending) if prefill else 0.0))
        return float(timing.pass_latency_s(self.rows, self.params, work)[0])


def kv_capacity_pairs(rows: RowInputs, params: CostParams, pricer: StepPricer) -> float:
    """Returns the KV cache of one replica in attended pairs: device memory left after weights, workspace, reserve.

    The same terms as `memory.max_batch`, divided by the bytes one (layer, position) pair stores on the
    most loaded device.
    """
    fixed = memory.weights_bytes(rows) + memory._workspace_bytes(rows, params) + memory.reserved_bytes(rows, params)
    free = float(np.maximum(rows.memory_capacity_bytes - fixed, 0.0)[0])
    return math.floor(free / pricer.kv_device_bytes_per_pair)


#: Pricers already built in this process, by layout (see `build_pricer`); at most PRICER_CACHE_SIZE.
_PRICERS: dict[tuple, tuple[StepPricer, RowInputs, tuple]] = {}
PRICER_CACHE_SIZE = 256


def build_pricer(model: ModelSpec, hardware: HardwareSpec, *, dtype: str, kv_dtype: str, tp: int, pp: int,
                 params: CostParams, max_tokens: int, input_len: int = 1, output_len: int = 1,
                 activation_tokens: int | None = None, ep: int = 1, adp: int = 1,
                 adp_balanced: bool = False) -> tuple[StepPricer, RowInputs]:
    """Returns the step pricer of a layout and its rows (lengths only set the rows' workspace and defaults).

    `ep`, `adp`: expert-parallel and attention data-parallel degrees (both divide `tp`; 1: plain TP);
    `adp_balanced`: the engine balances its attention DP ranks (docs/cost-model.md, "MoE parallelism").
    A search simulates one layout at many limits: the pricer of the same inputs is built once per process
    (for the largest step asked so far) and shared (`StepPricer.limited`), with the same prices.
    """
    # Keyed by the objects themselves (kept alive in the entry, so their ids stay theirs) and the values.
    key = (id(model), id(hardware), id(params), dtype, kv_dtype, tp, pp, input_len, output_len, activation_tokens,
           ep, adp, adp_balanced)
    cached = _PRICERS.get(key)
    if cached is not None and cached[0].max_tokens >= max_tokens:
        return cached[0].limited(max_tokens), cached[1]
    pricer, rows = _build_pricer(model, hardware, dtype=dtype, kv_dtype=kv_dtype, tp=tp, pp=pp, params=params,
                                 max_tokens=max_tokens, input_len=input_len, output_len=output_len,
                                 activation_tokens=activation_tokens, ep=ep, adp=adp, adp_balanced=adp_balanced)
    if len(_PRICERS) >= PRICER_CACHE_SIZE:
        _PRICERS.clear()
    _PRICERS[key] = (pricer, rows, (model, hardware, params))
    return pricer, rows


def _build_pricer(model: ModelSpec, hardware: HardwareSpec, *, dtype: str, kv_dtype: str, tp: int, pp: int,
                  params: CostParams, max_tokens: int, input_len: int, output_len: int,
                  activation_tokens: int | None, ep: int, adp: int, adp_balanced: bool) -> tuple[StepPricer, RowInputs]:
    params = params.for_hardware(hardware.name)  # the device's own fitted values (RNGD: `cost_models.rngd_fit`)
    moe = {"ep": ep, "adp": adp, "adp_balanced": adp_balanced}
    rows = layout_rows(model, hardware, dtype=dtype, kv_dtype=kv_dtype, tp=tp, pp=pp, input_len=input_len,
                       output_len=output_len, params=params, **moe)
    unit = layout_rows(model, hardware, dtype=dtype, kv_dtype=kv_dtype, tp=tp, pp=pp, input_len=1, output_len=0,
                       params=params, **moe)
    if activation_tokens is not None:
        rows = replace(rows, activation_tokens=np.array([float(activation_tokens)]))
        unit = replace(unit, activation_tokens=np.array([float(activation_tokens)]))
    pricer = StepPricer(rows, params, attention=attention_of(model, hardware, params), unit_rows=unit,
                        max_tokens=max_tokens)
    return pricer, rows
