"""A closed-form steady state of a closed loop on an engine that mixes prefill into decode steps.

With `c` clients of fixed lengths (I, O) and prompts that fit one step's token budget, a request
lives O steps: one that prefills its prompt (and emits its first token), then O - 1 decode steps.
In steady state every step therefore carries, on average, c/O prompts (c I / O prefill tokens) and
c (O - 1) / O decode tokens at the mean context I + O/2; each client gets one token per step, so
TPOT is that step, TTFT the one step its prompt joins (arrivals meet a step boundary in a closed
loop without think time), and throughput c tokens per step. Step times are linear in these counts
(the shipped roofline), so the average step is the step at the average mix. A bound for the
solver (no simulation); `tests/unit/test_serving_steady.py` keeps it within 2% of the simulator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from cost_models.serving.pricing import StepPricer
from cost_models.serving.scheduler import EngineLimits


@dataclass(frozen=True, kw_only=True)
class SteadyState:
    """Closed-loop steady state of one replica: seconds and output tokens per second."""

    tpot_s: float
    ttft_s: float
    output_tokens_per_s: float
    applies: bool
    """False when the closed form's premises fail (no mixed steps, a prompt over the token budget, more
    clients than sequences the engine takes, or more KV than the cache holds)."""


def closed_loop_steady_state(pricer: StepPricer, limits: EngineLimits, *, concurrency: int, input_len: int,
                             output_len: int) -> SteadyState:
    """Returns TPOT, TTFT and throughput of `concurrency` clients at fixed lengths, in closed form."""
    c, i, o = float(concurrency), int(input_len), int(output_len)
    att = pricer.attention
    context = att.pairs(i + o // 2)
    prompt = att.prefill_pairs(0, i)

    def step_s(prompts: float, decoders: float) -> float:
        """Seconds of a step carrying (fractional, on average) `prompts` whole prompts and `decoders` decode tokens."""
        if not pricer.plain:  # EP / attention DP: not linear in the counts; the step at the average mix
            return pricer.exact_s(decoders, prompts * i, prompts, decoders * context, prompts * prompt, concurrency)
        m = max(1, min(pricer.pp, concurrency))
        whole = pricer.step_s(0, 0, 0, 0.0, 0.0, concurrency)  # the step's fixed part at zero tokens
        # The tables (all-reduces, transfers, MoE weights) are not linear in the tokens: steps hold whole
        # prompts, so mix the steps with floor(prompts) and floor(prompts) + 1 of them.
        low = math.floor(prompts)
        share = prompts - low
        table = sum(weight * (pricer.step_s(0, int(round(decoders + count * i)), 0, 0.0, 0.0, concurrency) - whole)
                    for count, weight in ((low, 1.0 - share), (low + 1, share)) if weight > 0.0)
        linear = pricer.pp * ((pricer.c_decode - pricer.c_prefill) * decoders + pricer.c_sequence * prompts
                              + pricer.c_pair * (decoders * context + prompts * prompt)
                              + pricer.m_pair * decoders * context) / m \
            + (decoders + prompts) / m * pricer.sequence_overhead_s
        return whole + table + linear

    # Every step: c/O prompts, c(O-1)/O decode tokens; throughput c tokens per step.
    average = step_s(c / o, c * (o - 1) / o)
    # A request's own O-1 decode steps carry the other c-1 clients' prompts; its first step carries its own.
    others = (c - 1.0) / max(o - 1, 1)
    tpot = step_s(others, c - others)
    ttft = step_s(1.0, c - 1.0)
    kv = c * att.pairs(i + o)
    applies = (limits.mixed_batches and i + c <= limits.max_num_batched_tokens and c <= limits.max_num_seqs
               and kv <= limits.kv_capacity_pairs)
    return SteadyState(tpot_s=tpot, ttft_s=ttft, output_tokens_per_s=c / average, applies=applies)
