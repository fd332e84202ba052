"""What clients see: latency percentiles, throughput, goodput and overload, from simulated trajectories.

Measured requests: a closed loop drops its first `concurrency` requests (the burst that starts
every client at once) and its last `concurrency` (the drain, when clients stop sending), as
benchmark tools drop warm-up; an open loop drops the first 10% of arrivals. `measure="windows"`
counts what genai-perf reports instead (see `window_mask`). Throughput counts
the output tokens generated inside the measuring window (`window_tokens_per_s`); requests/s is
that over the measured requests' mean output length.

Overload: a replica that cannot keep up with an open loop's rate lets its waiting queue grow
without bound, and a finite run then reports whatever latency its length allows. The test: over
the requests that arrive in the second half of the arrivals, regress the queueing time on the
arrival time; the replica is overloaded when the queueing time grows by more than 5% of the
elapsed time (the service keeps below 95% of the arrival rate) and by more than the median
service time (scheduled to finished) over that half. Latencies of an overloaded run are not reported (None).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models.serving.scheduler import Trajectory

PERCENTILES = (50, 90, 99)
#: Share of arrivals an open loop discards as warm-up.
OPEN_WARMUP_FRACTION = 0.1
#: Queueing time growing faster than this per second of arrivals means the rate is not kept up with.
OVERLOAD_SLOPE = 0.05
#: genai-perf's measurement (its README, Profiling Options, docs.nvidia.com/deeplearning/triton-inference-server/
#: user-guide/docs/perf_analyzer/genai-perf/README.html): perf_analyzer "will sample a time interval specified
#: and take measurement over the requests completed within that time interval"; "when using the default
#: stability percentage [999], GenAI-Perf will benchmark for 3*(measurement_interval) milliseconds"; warm-up
#: requests default 0. The interval is 10,000 ms in the NIM benchmarking guide's commands (perf_analyzer's
#: own default is 5,000: perf_analyzer docs/cli.md, --measurement-interval).
GENAI_PERF_WINDOW_S = 10.0
GENAI_PERF_WINDOWS = 3
#: Points a run of inter-token gaps is summarised by for percentiles (the gaps of a run are linear).
_GAP_POINTS = 8


@dataclass(frozen=True, kw_only=True)
class Distribution:
    """p50, p90, p99 and mean of a latency, in milliseconds."""

    p50: float
    p90: float
    p99: float
    mean: float

    def to_dict(self) -> dict[str, float]:
        return {"p50": round(self.p50, 4), "p90": round(self.p90, 4), "p99": round(self.p99, 4),
                "mean": round(self.mean, 4)}


@dataclass(frozen=True, kw_only=True)
class PoolSummary:
    """One pool of a disaggregated deployment: its layout, its replicas and how busy they were."""

    role: str
    """'prefill' or 'decode'."""
    tensor_parallel_size: int
    pipeline_parallel_size: int
    replicas: int
    devices: int
    """Devices (GPUs, RNGD cards) the pool's replicas occupy."""
    busy_fraction: float
    """Mean over the replicas of the share of the run spent in engine steps (the rest: waiting for work)."""
    peak_kv_fraction: float
    """Largest share of a replica's KV cache in use after a step (a prefill replica frees a prompt's KV in the
    step that completes it, so its peak shows only prompts part-way through)."""
    preemptions: int
    max_num_seqs: int
    max_num_batched_tokens: int
    expert_parallel_size: int = 1
    """MoE: expert parallel degree of each replica (1: plain tensor parallel)."""
    attention_data_parallel_size: int = 1
    """MoE: attention data parallel degree of each replica."""

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "tensor_parallel_size": self.tensor_parallel_size,
                "pipeline_parallel_size": self.pipeline_parallel_size,
                "expert_parallel_size": self.expert_parallel_size,
                "attention_data_parallel_size": self.attention_data_parallel_size, "replicas": self.replicas,
                "devices": self.devices, "busy_fraction": round(self.busy_fraction, 6),
                "peak_kv_fraction": round(self.peak_kv_fraction, 6), "preemptions": self.preemptions,
                "max_num_seqs": self.max_num_seqs, "max_num_batched_tokens": self.max_num_batched_tokens}


@dataclass(frozen=True, kw_only=True)
class ServingResult:
    """What clients of one configuration see under the given traffic (all replicas together)."""

    requests: int
    """Requests measured (warm-up and drain excluded)."""
    replicas: int
    ttft_ms: Distribution | None
    tpot_ms: Distribution
    """Per request: (end-to-end - TTFT) / (output tokens - 1)."""
    itl_ms: Distribution
    """Every gap between two tokens of a request."""
    e2e_latency_ms: Distribution | None
    queueing_ms: Distribution | None
    output_tokens_per_s: float
    requests_per_s: float
    goodput_requests_per_s: float | None
    """Requests per second that meet every SLO given (all of them without SLOs)."""
    peak_kv_fraction: float
    """Largest share of the KV cache in use on a replica."""
    peak_kv_tokens: float
    preemptions: int
    overloaded: bool
    simulated_s: float
    """Simulated time of one replica's run."""
    steps: int
    engine: str
    release: str
    max_num_seqs: int
    max_num_batched_tokens: int
    traffic: str
    notes: tuple[str, ...] = ()
    peak_running: int = 0
    """Most requests admitted and unfinished at once on a replica (an upper bound on the engine's running
    batch: a preempted request counts until it finishes). Any max_num_seqs above it never binds, so the
    run is the same for every such limit."""
    mode: str = "agg"
    """'agg' (every replica prefills and decodes) or 'disagg' (a prefill pool and a decode pool)."""
    prefill: PoolSummary | None = None
    decode: PoolSummary | None = None
    kv_transfer_ms: Distribution | None = None
    """Disaggregated: the KV cache's move from the prefill to the decode replica, per request."""
    kv_link: str | None = None
    """Disaggregated: the link the KV cache moves over, and why that one."""

    def to_dict(self) -> dict[str, Any]:
        def dist(d: Distribution | None) -> dict[str, float] | None:
            return None if d is None else d.to_dict()

        out = {
            "engine": self.engine, "release": self.release, "replicas": self.replicas, "traffic": self.traffic,
            "max_num_seqs": self.max_num_seqs, "max_num_batched_tokens": self.max_num_batched_tokens,
            "requests": self.requests, "overloaded": self.overloaded,
            "ttft_ms": dist(self.ttft_ms), "tpot_ms": dist(self.tpot_ms), "itl_ms": dist(self.itl_ms),
            "e2e_latency_ms": dist(self.e2e_latency_ms), "queueing_ms": dist(self.queueing_ms),
            "output_tokens_per_s": round(self.output_tokens_per_s, 4),
            "requests_per_s": round(self.requests_per_s, 6),
            "goodput_requests_per_s": None if self.goodput_requests_per_s is None
            else round(self.goodput_requests_per_s, 6),
            "peak_kv_fraction": round(self.peak_kv_fraction, 6), "peak_kv_tokens": round(self.peak_kv_tokens, 1),
            "preemptions": self.preemptions, "simulated_s": round(self.simulated_s, 6), "steps": self.steps,
            "notes": list(self.notes),
        }
        if self.mode == "disagg":  # aggregated documents keep their keys (byte for byte as before)
            out = {"mode": self.mode, **out, "prefill": None if self.prefill is None else self.prefill.to_dict(),
                   "decode": None if self.decode is None else self.decode.to_dict(),
                   "kv_transfer_ms": dist(self.kv_transfer_ms), "kv_link": self.kv_link}
        return out


@dataclass(frozen=True, kw_only=True)
class ReplicaSummary:
    """Per-request figures of the measured requests of one replica, and its rates."""

    ttft_s: np.ndarray
    tpot_s: np.ndarray
    """NaN for one-token requests (no TPOT)."""
    e2e_s: np.ndarray
    queue_s: np.ndarray
    gap_s: np.ndarray
    gap_weight: np.ndarray
    output_tokens_per_s: float
    requests_per_s: float
    overloaded: bool


def measured_mask(traj: Trajectory, *, concurrency: int | None) -> np.ndarray:
    """Returns which requests count: warm-up (and a closed loop's drain) left out, by arrival order."""
    n = len(traj.arrival_s)
    order = np.argsort(traj.arrival_s, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    if concurrency is not None:
        skip = concurrency if n >= 3 * concurrency else n // 3
        return (rank >= skip) & (rank < n - skip)
    skip = int(n * OPEN_WARMUP_FRACTION)
    return rank >= skip


def window_mask(traj: Trajectory, *, window_s: float = GENAI_PERF_WINDOW_S,
                windows: int = GENAI_PERF_WINDOWS) -> np.ndarray:
    """Returns which requests genai-perf measures: those completing in `windows` consecutive time windows.

    The windows are `window_s` long from the start of the load (no warm-up: the clients' first burst is
    measured); windows in which no request completes measure nothing (perf_analyzer has no latency to
    report for them), so the measurement starts at the window of the first completion. Long requests
    then make the measured set the first rounds, short ones the steady state.
    """
    finish = traj.finish_s
    first = float(np.floor(np.nanmin(finish) / window_s)) * window_s
    return (finish >= first) & (finish < first + windows * window_s)


def summarize_replica(traj: Trajectory, *, concurrency: int | None, measure: str = "steady") -> ReplicaSummary:
    """Returns the measured requests' latencies and the replica's throughput and overload verdict.

    `measure`: 'steady' leaves out warm-up (and a closed loop's drain); 'all' counts every request's
    latency, start included, as a benchmark without warm-up reports it; 'windows' the requests
    genai-perf measures (`window_mask`). Throughput keeps its window (`window_tokens_per_s`).
    """
    mask = measured_mask(traj, concurrency=concurrency)
    if measure == "all":
        mask = np.ones(len(traj.arrival_s), dtype=bool)
    elif measure == "windows":
        mask = window_mask(traj)
    if not mask.any():
        mask = np.ones(len(traj.arrival_s), dtype=bool)
    arrival, first, finish = traj.arrival_s[mask], traj.first_token_s[mask], traj.finish_s[mask]
    out = traj.output_len[mask]
    ttft = first - arrival
    e2e = finish - arrival
    tpot = np.where(out > 1, (finish - first) / np.maximum(out - 1, 1), np.nan)
    queue = traj.scheduled_s[mask] - arrival
    rate_tokens = window_tokens_per_s(traj, concurrency=concurrency)
    rate_requests = rate_tokens / float(out.mean())
    gaps, weights = _gap_points(traj)
    return ReplicaSummary(ttft_s=ttft, tpot_s=tpot, e2e_s=e2e, queue_s=queue, gap_s=gaps,
                          gap_weight=weights, output_tokens_per_s=rate_tokens, requests_per_s=rate_requests,
                          overloaded=concurrency is None and is_overloaded(traj))


def window_tokens_per_s(traj: Trajectory, *, concurrency: int | None) -> float:
    """Returns output tokens/s over the measuring window: from the first measured arrival to the last arrival.

    Until the last arrival every client of a closed loop is busy (and an open loop still arrives), so the
    window is steady state. An overloaded open loop is measured while its queue is full: from the median to
    the last scheduling time. A request's decode tokens are spread evenly between its first token and its
    finish (counted by the share of that span inside the window), its first token at its time.
    """
    mask = measured_mask(traj, concurrency=concurrency)
    start = float(traj.arrival_s[mask].min()) if mask.any() else 0.0
    end = float(traj.arrival_s.max())
    if concurrency is None and is_overloaded(traj):
        # Saturated: the queue stays full until the last request is scheduled, long after the last arrival.
        start, end = float(np.median(traj.scheduled_s)), float(traj.scheduled_s.max())
    if end <= start:
        end = float(traj.finish_s.max())
    first, finish = traj.first_token_s, traj.finish_s
    span = finish - first
    inside = np.clip(np.minimum(finish, end) - np.maximum(first, start), 0.0, None)
    share = np.where(span > 0, inside / np.where(span > 0, span, 1.0), 0.0)
    tokens = share * (traj.output_len - 1) + ((first >= start) & (first <= end))
    return float(tokens.sum()) / (end - start) if end > start else float("nan")


def is_overloaded(traj: Trajectory) -> bool:
    """Returns True when the queueing time keeps growing over the second half of the arrivals (see module doc)."""
    n = len(traj.arrival_s)
    if n < 20:
        return False
    order = np.argsort(traj.arrival_s, kind="stable")[n // 2:]
    t = traj.arrival_s[order]
    q = traj.scheduled_s[order] - t
    span = float(t[-1] - t[0])
    if span <= 0.0:
        return False
    slope = float(np.polyfit(t - t[0], q, 1)[0])
    median_service = float(np.median(traj.finish_s[order] - traj.scheduled_s[order]))
    return slope > OVERLOAD_SLOPE and slope * span > median_service


def _gap_points(traj: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """Returns inter-token gaps (s) with weights: a run of k linear gaps is k points, or 8 evenly spread ones."""
    first, slope, steps, weight = traj.gap_first_s, traj.gap_slope_s, traj.gap_steps, traj.gap_weight
    points = np.minimum(steps, _GAP_POINTS)
    reps = np.repeat(np.arange(len(first)), points)
    # Position of each point inside its run: (j + 0.5) / points of the run's steps.
    offset = np.arange(len(reps)) - np.repeat(np.cumsum(points) - points, points)
    position = (offset + 0.5) / points[reps] * steps[reps] - 0.5
    position = np.where(steps[reps] <= _GAP_POINTS, offset, position)
    values = first[reps] + slope[reps] * position
    weights = weight[reps] * steps[reps] / points[reps]
    return values, weights


def distribution_ms(values_s: np.ndarray, weights: np.ndarray | None = None) -> Distribution:
    """Returns p50, p90, p99 and the mean of `values_s` (seconds) in milliseconds (weighted if given)."""
    v = np.asarray(values_s, dtype=np.float64) * 1e3
    keep = np.isfinite(v)
    v = v[keep]
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)[keep]
    if v.size == 0:
        nan = float("nan")
        return Distribution(p50=nan, p90=nan, p99=nan, mean=nan)
    if weights is None:
        p = np.percentile(v, PERCENTILES)
        return Distribution(p50=float(p[0]), p90=float(p[1]), p99=float(p[2]), mean=float(v.mean()))
    order = np.argsort(v, kind="stable")
    v, w = v[order], np.asarray(weights, dtype=np.float64)[order]
    cum = np.cumsum(w)
    total = cum[-1]
    picks = [float(v[min(np.searchsorted(cum, q / 100.0 * total), len(v) - 1)]) for q in PERCENTILES]
    return Distribution(p50=picks[0], p90=picks[1], p99=picks[2], mean=float(np.dot(v, w) / total))


def meets_slo(summary: ReplicaSummary, *, ttft_ms: float | None, tpot_ms: float | None) -> np.ndarray:
    """Returns, per measured request, whether it met every SLO given (a one-token request has no TPOT to miss)."""
    ok = np.ones(len(summary.ttft_s), dtype=bool)
    if ttft_ms is not None:
        ok &= summary.ttft_s * 1e3 <= ttft_ms
    if tpot_ms is not None:
        ok &= ~(summary.tpot_s * 1e3 > tpot_ms)
    return ok
