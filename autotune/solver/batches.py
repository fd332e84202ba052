"""The batch per replica as an integer decision, exact over every value from 1 up.

For one layout (TP, PP, DP) every limit that depends on the batch is monotone in it: memory per
device, TPOT and TTFT grow with the batch (more KV cache, more tokens per step), and a runtime's
decode-bucket cap is a threshold. The batches that meet every limit are therefore an interval
[1, B], and B is found by bisection over the real cost functions; the rows at B and B + 1 prove it
(B meets every limit, B + 1 breaks one).

Inside that interval every objective's metric is monotone as well: output tokens/s
(DP x b / TPOT(b)) grows with b, and TPOT, TTFT and end-to-end latency grow with b. So the best
batch of a layout for a lexicographic objective (`formulation.objective_levels`) is found by
walking its levels: a minimised level keeps the lower end of the interval and the batches that tie
with it, a maximised level keeps the upper end and its ties, a level constant in b (devices) keeps
the interval, and the last level (row order) takes the smallest batch left.

`layout_batches` returns, per layout, B, the best batch of each objective and B + 1; `every_batch`
returns every integer batch instead (for the Pareto front and for `enumerate --batches every`,
the brute force the property tests check the walk against).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from autotune.specs.candidates import Candidates
from autotune.errors import InputError
from autotune.solver.formulation import OBJECTIVES, integer_tables, objective_levels
from autotune.specs.space import SearchSpace
from autotune.specs.workload import Workload
from cost_models.table import CostTable

#: Largest batch per replica considered anywhere (the Workload's own bound on `batch`).
MAX_BATCH = 1_000_000
#: Most rows an every-batch expansion may hold before it is refused (about 1 GB of cost table).
MAX_EVERY_BATCH_ROWS = 3_000_000

Evaluator = Callable[[Candidates], CostTable]


@dataclass(frozen=True, kw_only=True)
class BatchRange:
    """Per layout (parallel arrays): the batch limits found by bisection."""

    memory: np.ndarray
    """Largest batch whose memory fits every device (0: not one sequence)."""
    runtime: np.ndarray
    """Largest batch the runtime's decode buckets allow (MAX_BATCH: no such limit)."""
    feasible: np.ndarray
    """Largest batch that meets every batch-dependent limit: memory, runtime and the SLOs (0: none)."""


def _with_batch(layouts: Candidates, index: np.ndarray, batch: np.ndarray) -> Candidates:
    return layouts.take(index, batch=batch)


def last_true(predicate: Callable[[np.ndarray, np.ndarray], np.ndarray], lo: np.ndarray,
              hi: np.ndarray) -> np.ndarray:
    """Returns, per layout, the largest b in [lo, hi] with predicate true, where predicate(lo) holds.

    `predicate(index, b)` answers for the layouts `index` at batches `b` and must be monotone
    (true up to some b, false after). Layouts are bisected together; only unresolved ones are evaluated.
    """
    return _boundary(predicate, good=np.asarray(lo, dtype=np.int64), bad=np.asarray(hi, dtype=np.int64) + 1)


def first_true(predicate: Callable[[np.ndarray, np.ndarray], np.ndarray], lo: np.ndarray,
               hi: np.ndarray) -> np.ndarray:
    """Returns, per layout, the smallest b in [lo, hi] with predicate true, where predicate(hi) holds (monotone)."""
    return _boundary(predicate, good=np.asarray(hi, dtype=np.int64), bad=np.asarray(lo, dtype=np.int64) - 1)


def _boundary(predicate: Callable[[np.ndarray, np.ndarray], np.ndarray], *, good: np.ndarray,
              bad: np.ndarray) -> np.ndarray:
    """Returns the last b where predicate holds walking from `good` (true) towards `bad` (false), per layout."""
    good, bad = good.copy(), bad.copy()
    while True:
        open_ = np.flatnonzero(np.abs(bad - good) > 1)
        if len(open_) == 0:
            return good
        mid = (good[open_] + bad[open_]) // 2
        ok = np.asarray(predicate(open_, mid), dtype=bool)
        good[open_[ok]] = mid[ok]
        bad[open_[~ok]] = mid[~ok]


def runtime_batch_cap(space: SearchSpace, workload: Workload, layouts: Candidates) -> np.ndarray:
    """Returns, per layout, the largest batch per replica the runtime's decode buckets allow (MAX_BATCH: none)."""
    per_micro = space.max_decode_batch(workload.context_len)
    if per_micro is None:
        return np.full(len(layouts), MAX_BATCH, dtype=np.int64)
    return np.minimum(per_micro * np.asarray(layouts.pp, dtype=np.int64), MAX_BATCH)


def batch_range(evaluate: Evaluator, space: SearchSpace, workload: Workload, layouts: Candidates) -> BatchRange:
    """Returns, per layout, the largest batch meeting memory, the runtime's cap and the SLOs (by bisection)."""
    n = len(layouts)
    zero = np.zeros(n, dtype=np.int64)

    # The cost table's `max_batch` is memory's own exact largest fitting batch (`memory.largest_fitting_batch`).
    memory = np.asarray(evaluate(_with_batch(layouts, np.arange(n), np.ones(n, dtype=np.int64))).max_batch,
                        dtype=np.int64)
    runtime = runtime_batch_cap(space, workload, layouts)
    upper = np.minimum(memory, runtime)

    def meets_slos(index: np.ndarray, b: np.ndarray) -> np.ndarray:
        table = evaluate(_with_batch(layouts, index, b))
        ok = np.ones(len(index), dtype=bool)
        if workload.ttft_ms is not None:
            ok &= np.asarray(table.ttft_s, dtype=float) * 1e3 <= workload.ttft_ms
        if workload.tpot_ms is not None:
            ok &= np.asarray(table.tpot_s, dtype=float) * 1e3 <= workload.tpot_ms
        return ok

    feasible = upper
    if workload.ttft_ms is not None or workload.tpot_ms is not None:
        feasible = last_true(meets_slos, zero, upper)
    return BatchRange(memory=memory, runtime=runtime, feasible=feasible)


def best_batches(evaluate: Evaluator, layouts: Candidates, feasible: np.ndarray, objective: str) -> np.ndarray:
    """Returns, per layout, the best batch in [1, feasible] for `objective` (0 where feasible is 0).

    Walks the objective's lexicographic levels over the interval, as the module docstring says.
    """
    live = np.flatnonzero(feasible >= 1)
    lo = np.ones(len(live), dtype=np.int64)
    hi = np.asarray(feasible, dtype=np.int64)[live].copy()

    def level_values(name: str, index: np.ndarray, b: np.ndarray) -> np.ndarray:
        tables = integer_tables(evaluate(_with_batch(layouts, live[index], b)))
        return np.asarray(getattr(tables, name), dtype=np.int64)

    everything = np.arange(len(live))
    for level in objective_levels(objective, integer_tables(evaluate(_with_batch(layouts, live, lo)))):
        if level.name in ("devices_used", "row_index"):
            continue  # constant in the batch / resolved by taking the lower end below
        at_lo = level_values(level.name, everything, lo)
        at_hi = level_values(level.name, everything, hi)
        # Most layouts resolve at once: the metric already moves one batch in from the kept end.
        if level.maximize:
            target = at_hi
            moved = level_values(level.name, everything, np.maximum(hi - 1, lo)) < target
            start = np.where(moved | (hi == lo), hi, lo)
            lo = first_true(lambda i, b, t=target, name=level.name: level_values(name, i, b) >= t[i], start, hi)
        else:
            target = at_lo
            moved = level_values(level.name, everything, np.minimum(lo + 1, hi)) > target
            end = np.where(moved | (hi == lo), lo, hi)
            hi = last_true(lambda i, b, t=target, name=level.name: level_values(name, i, b) <= t[i], lo, end)
    best = np.zeros(len(layouts), dtype=np.int64)
    best[live] = lo
    return best


def layout_batches(evaluate: Evaluator, space: SearchSpace, workload: Workload,
                   layouts: Candidates) -> tuple[Candidates, BatchRange]:
    """Returns the candidate rows for batch 'auto' and the per-layout ranges.

    Per layout: the best batch of every objective, the largest feasible batch B and B + 1 (which
    shows the limit that stops a larger batch); a layout where not even batch 1 meets the limits
    gets one row at batch 1, which says why. Rows are sorted by (tp, pp, dp, ep, adp, batch).
    """
    ranges = batch_range(evaluate, space, workload, layouts)
    columns = [np.ones(len(layouts), dtype=np.int64), ranges.feasible, ranges.feasible + 1]
    columns += [best_batches(evaluate, layouts, ranges.feasible, objective) for objective in OBJECTIVES]
    batch = np.stack(columns, axis=1)
    batch = np.where(batch >= 1, batch, 1)
    batch = np.minimum(batch, MAX_BATCH)
    return _expand(layouts, batch), ranges


def every_batch(layouts: Candidates, upper: np.ndarray) -> Candidates:
    """Returns, per layout, a row for every batch from 1 to upper + 1 (the brute force), sorted by (tp, pp, dp, ep, adp, batch)."""
    counts = np.minimum(np.asarray(upper, dtype=np.int64), MAX_BATCH - 1) + 1
    total = int(counts.sum())
    if total > MAX_EVERY_BATCH_ROWS:
        raise InputError(source="--batch", value="auto",
                         expected=f"at most {MAX_EVERY_BATCH_ROWS:,} rows when every integer batch is listed (the "
                                  f"Pareto front, enumerate --batches every); this request has {total:,}: give "
                                  f"--batch N, pin --tp/--pp/--dp, or use fewer devices")
    index = np.repeat(np.arange(len(layouts)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    batch = np.arange(total, dtype=np.int64) - starts + 1
    return _with_batch(layouts, index, batch)


def _expand(layouts: Candidates, batch: np.ndarray) -> Candidates:
    """Returns one row per distinct (layout, batch) pair of the per-layout batch lists, sorted."""
    index = np.repeat(np.arange(len(layouts)), batch.shape[1])
    pairs = np.unique(np.stack([index, batch.reshape(-1)], axis=1), axis=0)
    return _with_batch(layouts, pairs[:, 0], pairs[:, 1])
