"""The iteration-level simulator of one replica's engine: which work each step runs, and when tokens come out.

Per step (engines that mix prefill and decode: vLLM, SGLang, TensorRT-LLM):
1. every decoding request adds one token; with KV allocated on demand, when the cache cannot hold
   the step's new tokens the most recently admitted request is preempted (its KV freed, its prompt
   and generated tokens recomputed later as a prefill: vLLM's recompute preemption);
2. requests part-way through their prompt continue it, then waiting requests are admitted in
   arrival order while the sequence limit, the step's token budget (chunked prefill: a prompt may
   take several steps) and the free KV cache allow. Engines that reserve KV at admission
   (TensorRT-LLM GUARANTEED_NO_EVICT) reserve the whole prompt plus output and never preempt.
Furiosa LLM runs no mixed step (furiosa-llm.md section 6 item 8): a step is one batch-1 prefill
chunk (padded to the chunk step) or one decode batch (padded to the compiled batch size and to
that size's attention bucket); a waiting request's prefill goes first.

Speed: a run of pure decode steps has a fixed batch whose contexts grow by one token per step,
so its step times are linear in the step index (exact for the shipped roofline, sharpness 1).
Such runs are taken in one jump, to the next event: a request finishing, a new arrival the
engine could admit, the KV cache filling, a window or attention-bucket edge. Only steps that
carry prefill work are priced one by one.
"""
from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cost_models.serving.engines import Buckets
from cost_models.serving.pricing import StepPricer

_NEVER = 1 << 62


@dataclass(frozen=True, kw_only=True)
class EngineLimits:
    """What the scheduler enforces for one replica (an engine profile resolved for a layout)."""

    max_num_seqs: int
    max_num_batched_tokens: int
    chunked_prefill: bool
    mixed_batches: bool
    reserve_full: bool
    """True: KV for prompt + output is reserved at admission (no preemption)."""
    kv_capacity_pairs: float
    """KV cache of the replica in attended (layer, position) pairs."""
    buckets: Buckets | None = None
    prefills_between_decodes: int | None = None
    """Engines without mixed steps: prefill steps allowed before decoding requests get a step (None: no limit)."""


@dataclass(frozen=True, kw_only=True)
class Trajectory:
    """What happened to every request, and the inter-token gaps, of one simulated replica."""

    arrival_s: np.ndarray
    scheduled_s: np.ndarray
    """When the request's first prompt token was scheduled."""
    first_token_s: np.ndarray
    finish_s: np.ndarray
    input_len: np.ndarray
    output_len: np.ndarray
    gap_first_s: np.ndarray
    """Inter-token gaps, by runs of steps: first gap of the run, increase per step, steps, requests."""
    gap_slope_s: np.ndarray
    gap_steps: np.ndarray
    gap_weight: np.ndarray
    peak_kv_pairs: float
    preemptions: int
    steps: int
    busy_s: float = 0.0
    """Seconds the replica spent running steps (the rest of its time it waited for work)."""


#: observer(sequences in the step, tokens the step computes, KV pairs in use after it, steps): for tests.
Observer = Callable[[int, int, float, int], None]


def simulate_replica(pricer: StepPricer, limits: EngineLimits, *, input_len: np.ndarray, output_len: np.ndarray,
                     arrival_s: np.ndarray | None = None, concurrency: int | None = None,
                     observer: Observer | None = None, start_spread_s: float = 0.0,
                     prefilled: np.ndarray | None = None) -> Trajectory:
    """Returns the trajectory of one replica serving the requests (open loop: `arrival_s`; closed: `concurrency`).

    A closed loop's clients send their first requests evenly over `start_spread_s` (0: all at once, as
    benchmark tools start); with equal lengths, requests that start together stay in lockstep, which
    jitter breaks in real runs, so a spread of one request's latency starts the loop in its steady state.
    `prefilled` (disaggregated decode): per request, True when it arrives with its prompt's KV cache and
    first token already made elsewhere; it is admitted straight into the decode batch (no prefill work),
    its first token counted at admission. None (aggregated serving) leaves every path as it was.
    """
    return _Engine(pricer, limits, input_len, output_len, arrival_s, concurrency, observer, start_spread_s,
                   prefilled).run()


class _Engine:
    """Mutable state of one simulation (kept in Python lists and scalars: the loop is the hot path)."""

    def __init__(self, pricer: StepPricer, limits: EngineLimits, input_len: np.ndarray, output_len: np.ndarray,
                 arrival_s: np.ndarray | None, concurrency: int | None, observer: Observer | None = None,
                 start_spread_s: float = 0.0, prefilled: np.ndarray | None = None) -> None:
        self.observer = observer
        self.prefilled = None if prefilled is None else [bool(x) for x in prefilled]
        self.busy = 0.0
        self.pricer = pricer
        self.limits = limits
        att = pricer.attention
        self.full_layers, self.window_layers, self.window = att.full_layers, att.window_layers, att.window
        self.attention = att
        n = len(input_len)
        self.n = n
        self.inp = [int(x) for x in input_len]
        self.out = [int(x) for x in output_len]
        self.closed = concurrency is not None
        self.concurrency = concurrency
        self.arr = [0.0] * n if arrival_s is None else [float(x) for x in arrival_s]
        self.sched = [-1.0] * n
        self.first = [-1.0] * n
        self.fin = [-1.0] * n
        self.computed = [0] * n
        self.target = list(self.inp)
        self.gen = [0] * n
        self.gjoin = [0] * n
        self.cjoin = [0] * n
        self.version = [0] * n
        self.state = [0] * n  # 0 waiting, 1 prefilling, 2 decoding, 3 done
        self.waiting: deque[int] = deque()
        self.running: list[int] = []
        self.prefilling: list[int] = []
        self.finish_heap: list[tuple[int, int, int]] = []
        self.cross_heap: list[tuple[int, int, int]] = []
        self.ctx_heap: list[tuple[int, int, int]] = []
        self.now = 0.0
        self.G = 0  # decode steps so far: a decoding request's context grows by one per step
        self.D = 0
        self.sum_ctx = 0
        self.sum_win = 0
        self.below = 0
        self.kv = 0.0
        self.peak_kv = 0.0
        self.preemptions = 0
        self.steps = 0
        self.done = 0
        self.stall = 0.0
        self.prefills_since_decode = 0
        self.gaps: list[tuple[float, float, int, int]] = []
        self.next_arrival = 0
        # Arrivals known in advance: every request of an open loop; a closed loop's clients' first requests,
        # staggered evenly over `start_spread_s` (the rest are sent as requests finish).
        self.scheduled_arrivals = n
        self.sent = n
        if self.closed:
            clients = min(int(concurrency), n)
            self.scheduled_arrivals = self.sent = clients
            for k in range(clients):
                self.arr[k] = start_spread_s * k / clients

    # -- KV and context helpers -------------------------------------------------------------------------------
    def pairs(self, context: int) -> float:
        if self.window_layers:
            return self.full_layers * context + self.window_layers * min(context, self.window)
        return float(self.full_layers * context)

    def kv_growth(self) -> float:
        if self.limits.reserve_full:
            return 0.0
        return float(self.full_layers * self.D + self.window_layers * self.below)

    def decode_pairs(self) -> float:
        return float(self.full_layers * self.sum_ctx + self.window_layers * self.sum_win)

    # -- arrivals ---------------------------------------------------------------------------------------------
    def admit_arrivals(self) -> None:
        arr, n = self.arr, self.scheduled_arrivals
        while self.next_arrival < n and arr[self.next_arrival] <= self.now:
            self.waiting.append(self.next_arrival)
            self.next_arrival += 1

    def next_arrival_s(self) -> float:
        if self.next_arrival >= self.scheduled_arrivals:
            return math.inf
        return self.arr[self.next_arrival]

    def send(self) -> None:
        """Closed loop: a client sends its next request now."""
        if self.sent < self.n:
            self.arr[self.sent] = self.now
            self.waiting.append(self.sent)
            self.sent += 1

    def admit_prefilled(self) -> None:
        """Disaggregated decode: moves prefilled requests at the queue's head into the decode batch, in order.

        A request needs a sequence slot and room for its prompt's KV (prompt + output when the engine
        reserves the whole request) plus the next step's new tokens; its transferred first token is out.
        """
        pre, waiting, lim = self.prefilled, self.waiting, self.limits
        while waiting and pre[waiting[0]] and len(self.running) < lim.max_num_seqs:
            i = waiting[0]
            if lim.reserve_full:
                need, step = self.pairs(self.inp[i] + self.out[i]), 0.0
            else:
                need, step = self.pairs(self.inp[i]), float(self.full_layers + self.window_layers)
            if not self._fits(need + self.kv_growth() + step):
                return
            waiting.popleft()
            pre[i] = False  # preempted later, it is recomputed here (the engine's recompute preemption)
            self.kv += need
            self.running.append(i)
            self.sched[i] = self.first[i] = self.now
            self.computed[i] = self.inp[i]
            self.gen[i] = 1
            if self.out[i] <= 1:
                self.finish(i)
            else:
                self.join_decode(i)
            self._peak()

    # -- request transitions ------------------------------------------------------------------------------------
    def join_decode(self, i: int) -> None:
        ctx = self.computed[i] + 1
        self.state[i] = 2
        self.cjoin[i] = ctx
        self.gjoin[i] = self.G
        self.D += 1
        self.sum_ctx += ctx
        v = self.version[i]
        if self.window_layers:
            self.sum_win += min(ctx, self.window)
            if ctx < self.window:
                self.below += 1
                heapq.heappush(self.cross_heap, (self.G + self.window - ctx, v, i))
        heapq.heappush(self.finish_heap, (self.G + self.out[i] - self.gen[i], v, i))
        if self.limits.buckets is not None:
            heapq.heappush(self.ctx_heap, (self.G - ctx, v, i))

    def leave_decode(self, i: int) -> None:
        ctx = self.cjoin[i] + self.G - self.gjoin[i]
        self.D -= 1
        self.sum_ctx -= ctx
        if self.window_layers:
            self.sum_win -= min(ctx, self.window)
            if ctx < self.window:
                self.below -= 1
        self.computed[i] = ctx - 1
        self.version[i] += 1

    def release_kv(self, i: int) -> None:
        if self.limits.reserve_full:
            self.kv -= self.pairs(self.inp[i] + self.out[i])
        else:
            self.kv -= self.pairs(self.computed[i])
        if self.kv < 0.0:
            self.kv = 0.0

    def finish(self, i: int) -> None:
        if self.state[i] == 2:
            self.leave_decode(i)
        self.release_kv(i)
        self.state[i] = 3
        self.fin[i] = self.now
        self.running.remove(i)
        self.done += 1
        if self.closed:
            self.send()

    def preempt(self) -> None:
        i = self.running.pop()
        if self.state[i] == 2:
            self.leave_decode(i)
        else:
            self.prefilling.remove(i)
        self.release_kv(i)
        self.computed[i] = 0
        self.target[i] = self.inp[i] + self.gen[i]
        self.state[i] = 0
        self.version[i] += 1
        self.waiting.appendleft(i)
        self.preemptions += 1

    def advance_decoders(self, steps: int) -> None:
        """Moves every decoding request `steps` tokens on, then retires window crossings and finishes."""
        growth = self.kv_growth()
        self.G += steps
        self.sum_ctx += self.D * steps
        if self.window_layers:
            self.sum_win += self.below * steps
        self.kv += growth * steps
        G = self.G
        heap = self.cross_heap
        while heap and heap[0][0] <= G:
            _, v, i = heapq.heappop(heap)
            if self.version[i] == v and self.state[i] == 2:
                self.below -= 1
        heap = self.finish_heap
        while heap and heap[0][0] <= G:
            _, v, i = heapq.heappop(heap)
            if self.version[i] == v and self.state[i] == 2:
                self.gen[i] = self.out[i]
                self.finish(i)

    def end_prefill(self, i: int) -> None:
        """The chunk that completes a prompt emits a token: the first, or the next after a recompute."""
        self.prefilling.remove(i)
        self.gen[i] += 1
        if self.first[i] < 0.0:
            self.first[i] = self.now
        if self.gen[i] >= self.out[i]:
            self.finish(i)
        else:
            self.join_decode(i)

    # -- the loop -------------------------------------------------------------------------------------------
    def run(self) -> Trajectory:
        mixed = self.limits.mixed_batches
        while self.done < self.n:
            self.admit_arrivals()
            if self.prefilled is not None:
                self.admit_prefilled()
            if not self.running and not self.waiting:
                self.now = max(self.now, self.next_arrival_s())
                continue
            if mixed:
                if self.mixed_step():
                    continue
            elif self.prefill_step():
                continue
            if self.D == 0:
                if len(self.prefilling) > 1:
                    # Part-done prompts hold the KV cache and none can go on: the newest gives way (recompute).
                    self.preempt()
                    continue
                # Nothing can run: wait for an arrival (a lone request always fits: checked before the run).
                self.now = max(self.now, self.next_arrival_s())
                if not math.isfinite(self.now):
                    raise RuntimeError("serving simulation stalled: waiting requests that never fit")
                continue
            self.decode_run()
        return self._trajectory()

    def _fits(self, extra: float) -> bool:
        return self.kv + extra <= self.limits.kv_capacity_pairs

    def _make_room_for_decode(self) -> None:
        if self.limits.reserve_full:
            return
        while self.D > 0 and not self._fits(self.kv_growth()):
            self.preempt()

    def mixed_step(self, with_decode: bool = True) -> bool:
        """Runs one step with prefill work (and every decoder, `with_decode`) if there is any; False: none is due.

        Without decode (SGLang's default, no mixed chunk) the step is a prefill batch: the decoders wait.
        """
        lim = self.limits
        if with_decode:
            self._make_room_for_decode()
        decoders = self.D if with_decode else 0
        budget = lim.max_num_batched_tokens - decoders
        chunks: list[tuple[int, int, int]] = []
        growth = self.kv_growth() if with_decode else 0.0
        pending = growth  # the decoders' new tokens come first
        reserve = lim.reserve_full
        for i in self.prefilling:
            if budget <= 0:
                break
            start = self.computed[i]
            rem = self.target[i] - start
            c = min(rem, budget) if lim.chunked_prefill else rem
            if not lim.chunked_prefill and rem > budget and chunks:
                break
            need = 0.0 if reserve else self.pairs(start + c) - self.pairs(start)
            if not self._fits(pending + need):
                break
            pending += need
            chunks.append((i, start, start + c))
            budget -= c
        waiting = self.waiting
        pre = self.prefilled
        while waiting and budget > 0 and len(self.running) < lim.max_num_seqs:
            i = waiting[0]
            if pre is not None and pre[i]:
                break  # admitted by `admit_prefilled` once the KV cache has room
            rem = self.target[i]
            c = min(rem, budget) if lim.chunked_prefill else rem
            if not lim.chunked_prefill and rem > budget and (chunks or decoders):
                break
            need = self.pairs(self.inp[i] + self.out[i]) if reserve else self.pairs(c)
            if not self._fits(pending + need):
                break
            waiting.popleft()
            pending += need
            self.running.append(i)
            self.prefilling.append(i)
            self.state[i] = 1
            if self.sched[i] < 0.0:
                self.sched[i] = self.now
            chunks.append((i, 0, c))
            budget -= c
        if not chunks:
            return False
        prefill = 0
        prefill_pairs = 0.0
        ending = 0
        for i, start, end in chunks:
            prefill += end - start
            prefill_pairs += self.attention.prefill_pairs(start, end)
            if end == self.target[i]:
                ending += 1
        d = decoders
        t = self.pricer.step_s(d, prefill, ending, self.decode_pairs() if d else 0.0, prefill_pairs, d + len(chunks))
        self.now += t
        self.busy += t
        self.steps += 1
        if d:
            self.gaps.append((t + self.stall, 0.0, 1, d))
            self.stall = 0.0
        elif not with_decode:
            self.stall += t
            self.prefills_since_decode += 1
        self.kv += pending - growth
        if self.observer is not None:
            self.observer(d + len(chunks), d + prefill, self.kv + growth, 1)
        if d:
            self.advance_decoders(1)
        for i, start, end in chunks:
            self.computed[i] = end
            if end == self.target[i]:
                self.end_prefill(i)
        self._peak()
        return True

    def prefill_step(self) -> bool:
        """Engines without mixed steps: runs a prefill step if a prompt is part-way or a request can be admitted.

        Furiosa LLM: one batch-1 chunk (its buckets); others (SGLang): a batch of prompts up to the token budget.
        """
        lim = self.limits
        buckets = lim.buckets
        if lim.prefills_between_decodes is not None and self.D > 0 \
                and self.prefills_since_decode >= lim.prefills_between_decodes:
            return False
        if buckets is None:
            return self.mixed_step(with_decode=False)
        if self.prefilling:
            i = self.prefilling[0]
        elif self.waiting and len(self.running) < lim.max_num_seqs \
                and not (self.prefilled is not None and self.prefilled[self.waiting[0]]):
            i = self.waiting[0]
            need = self.pairs(min(self.target[i], lim.max_num_batched_tokens))
            if not self._fits(need):
                return False
            self.waiting.popleft()
            self.running.append(i)
            self.prefilling.append(i)
            self.state[i] = 1
            if self.sched[i] < 0.0:
                self.sched[i] = self.now
        else:
            return False
        start = self.computed[i]
        chunk = min(self.target[i] - start, lim.max_num_batched_tokens)
        end = start + chunk
        need = self.pairs(end) - self.pairs(start)
        if not self._fits(need):
            return False
        padded = buckets.padded_chunk(chunk) if buckets is not None else chunk
        ending = 1 if end == self.target[i] else 0
        t = self.pricer.step_s(0, padded, ending, 0.0, self.attention.prefill_pairs(start, start + padded), 1)
        self.now += t
        self.busy += t
        self.steps += 1
        self.stall += t
        self.prefills_since_decode += 1
        self.kv += need
        if self.observer is not None:
            self.observer(1, chunk, self.kv, 1)
        self.computed[i] = end
        if ending:
            self.end_prefill(i)
        self._peak()
        return True

    def _decode_step_shape(self) -> tuple[float, float, int]:
        """Returns (first step seconds, increase per step, steps the shape holds) of the current decode batch."""
        pricer = self.pricer
        buckets = self.limits.buckets
        d = self.D
        if buckets is None:
            first, slope = pricer.decode_segment(d, self.decode_pairs(), self.kv_growth_pairs_attended())
            return first, slope, _NEVER if pricer.linear else 1
        while self.ctx_heap:
            _, v, i = self.ctx_heap[0]
            if self.version[i] == v and self.state[i] == 2:
                break
            heapq.heappop(self.ctx_heap)
        longest = self.G - self.ctx_heap[0][0]
        size = buckets.decode_batch(d)
        passes = 1
        attention = buckets.attention_bucket(size, longest) if size else 0
        if not attention:
            # No compiled bucket holds this batch at this context: run it in passes of the largest batch size
            # whose attention ladder reaches the context (the smallest when none does).
            fitting = [s for s in buckets.decode_batch_sizes if buckets.attention_bucket(s, longest)]
            size = fitting[-1] if fitting else buckets.decode_batch_sizes[0]
            attention = buckets.attention_bucket(size, longest) or longest
            passes = -(-d // size)
        step = passes * pricer.step_s(size, 0, 0, size * self.attention.pairs(attention), 0.0, size)
        return step, 0.0, max(1, attention - longest + 1)

    def kv_growth_pairs_attended(self) -> float:
        """Returns how much the decoders' attended pairs grow per step."""
        return float(self.full_layers * self.D + self.window_layers * self.below)

    def decode_run(self) -> None:
        """Runs pure decode steps up to the next event, in one jump."""
        self._make_room_for_decode()
        if self.D == 0:
            return
        first, slope, k = self._decode_step_shape()
        k = min(k, self.finish_heap_top() - self.G)
        if self.window_layers:
            cross = self.cross_heap_top()
            if cross > self.G:
                k = min(k, cross - self.G)
        growth = self.kv_growth()
        if growth > 0.0:
            k = min(k, int((self.limits.kv_capacity_pairs - self.kv) // growth))
        lim = self.limits
        if lim.prefills_between_decodes is not None and (
                self.prefilling or (self.waiting and len(self.running) < lim.max_num_seqs)):
            k = 1  # prefill work waits for this one decode step only
        if k < 1:
            k = 1
        self.prefills_since_decode = 0
        arrival = self.next_arrival_s()
        if math.isfinite(arrival) and len(self.running) < self.limits.max_num_seqs:
            k = min(k, _steps_to_reach(arrival - self.now, first, slope))
        # The stalled prefill steps are already in `now` (prefill_step, mixed_step): only the gap carries them.
        total = k * first + slope * k * (k - 1) / 2.0
        self.gaps.append((first + self.stall, 0.0, 1, self.D))
        if k > 1:
            self.gaps.append((first + slope, slope, k - 1, self.D))
        self.stall = 0.0
        self.now += total
        self.busy += total
        self.steps += k
        if self.observer is not None:
            self.observer(self.D, self.D, self.kv + self.kv_growth() * k, k)
        self.advance_decoders(k)
        self._peak()

    def finish_heap_top(self) -> int:
        return self._live_top(self.finish_heap)

    def cross_heap_top(self) -> int:
        return self._live_top(self.cross_heap)

    def _live_top(self, heap: list) -> int:
        """Returns the key of the heap's first entry that is still current (stale entries are dropped)."""
        while heap:
            g, v, i = heap[0]
            if self.version[i] == v and self.state[i] == 2:
                return g
            heapq.heappop(heap)
        return _NEVER

    def _peak(self) -> None:
        if self.kv > self.peak_kv:
            self.peak_kv = self.kv

    def _trajectory(self) -> Trajectory:
        gaps = np.array(self.gaps, dtype=np.float64).reshape(-1, 4)
        return Trajectory(
            arrival_s=np.array(self.arr), scheduled_s=np.array(self.sched), first_token_s=np.array(self.first),
            finish_s=np.array(self.fin), input_len=np.array(self.inp), output_len=np.array(self.out),
            gap_first_s=gaps[:, 0], gap_slope_s=gaps[:, 1], gap_steps=gaps[:, 2].astype(np.int64),
            gap_weight=gaps[:, 3], peak_kv_pairs=self.peak_kv, preemptions=self.preemptions, steps=self.steps,
            busy_s=self.busy)


def _steps_to_reach(gap_s: float, first: float, slope: float) -> int:
    """Returns the fewest steps (>= 1) whose summed seconds reach `gap_s` (steps of first + j x slope)."""
    if gap_s <= first:
        return 1
    if slope <= 0.0:
        return max(1, math.ceil(gap_s / first))
    # n first + slope n (n - 1) / 2 >= gap: the positive root of the quadratic, rounded up.
    a, b = slope / 2.0, first - slope / 2.0
    n = math.ceil((-b + math.sqrt(b * b + 4.0 * a * gap_s)) / (2.0 * a))
    while n > 1 and (n - 1) * first + slope * (n - 1) * (n - 2) / 2.0 >= gap_s:
        n -= 1
    return max(1, n)
