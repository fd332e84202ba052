"""Exact Pareto fronts by the epsilon-constraint method, each point proven by CP-SAT.

Two fronts, both "lower TPOT is better" against "more throughput is better":
- `tpot-throughput`: TPOT against output tokens/s over all replicas;
- `user-card`: per-user tokens/s (1 / TPOT, so the same order as TPOT) against tokens/s per device.
Method: maximise throughput (ties: lower TPOT, fewer devices, lower row index); record the
point; require TPOT strictly below it (in integer microseconds); repeat until infeasible. Every
point found is non-dominated and every non-dominated (TPOT, throughput) pair is found, one
configuration per pair (the tie-breaks choose which).

Presolve: with every integer batch a row, a large fleet has 10^5 feasible rows and a front of
hundreds of points. A row strictly dominated by another feasible row (no slower per token and no
less throughput, better in one) can be on no front, so `undominated` drops those rows in one
sorted pass before the epsilon-constraint solves: the same front, in seconds instead of minutes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autotune.formulation import (FEASIBLE, INFEASIBLE, OPTIMAL, ObjectiveLevel, build_selection_model,
                                  integer_tables)
from autotune.search import Problem
from autotune.solve import Clock, SolverSettings, solve_lexicographic, worst_status

AXES: dict[str, tuple[str, str]] = {
    "tpot-throughput": ("tpot_ms", "throughput_tokens_per_s"),
    "user-card": ("tokens_per_s_per_user", "throughput_tokens_per_s_per_device"),
}


@dataclass(frozen=True, kw_only=True)
class FrontLevels:
    """The integer tables of a front: the latency axis (minimised) and the throughput axis (maximised)."""

    latency: ObjectiveLevel
    throughput: ObjectiveLevel
    devices: ObjectiveLevel
    row: ObjectiveLevel


def front_levels(problem: Problem, axes: str) -> FrontLevels:
    """Returns the integer tables of the front named `axes`."""
    if axes not in AXES:
        raise ValueError(f"axes {axes!r} is not one of {', '.join(AXES)}")
    t = integer_tables(problem.table)
    throughput = (t.throughput_milli_tokens_per_s if axes == "tpot-throughput"
                  else t.throughput_per_device_milli_tokens_per_s)
    return FrontLevels(latency=ObjectiveLevel(name="tpot_us", maximize=False, values=t.tpot_us),
                       throughput=ObjectiveLevel(name="throughput", maximize=True, values=throughput),
                       devices=ObjectiveLevel(name="devices_used", maximize=False, values=t.devices_used),
                       row=ObjectiveLevel(name="row_index", maximize=False, values=t.row_index))


def pareto_rows(problem: Problem, axes: str = "tpot-throughput", *,
                settings: SolverSettings | None = None, max_points: int = 10_000) -> tuple[str, list[int]]:
    """Returns (status, rows on the front), lowest TPOT first.

    Status OPTIMAL: the front is exact; FEASIBLE: a time limit cut a solve short (points found
    are feasible but the front may be incomplete or not proven); INFEASIBLE: nothing fits.
    """
    settings = settings or SolverSettings()
    clock = Clock(settings.time_limit_s)
    levels = front_levels(problem, axes)
    order = (levels.throughput, levels.latency, levels.devices, levels.row)
    feasible_rows = undominated(levels, np.flatnonzero(problem.feasible))
    c = problem.candidates
    rows: list[int] = []
    status = OPTIMAL
    epsilon_us: int | None = None
    while len(rows) < max_points:
        selection = build_selection_model(rows=feasible_rows, tp=c.tp, pp=c.pp, dp=c.dp, batch=c.batch)
        if epsilon_us is not None:
            # The epsilon constraint: strictly faster per token than the last point.
            selection.bound(levels.latency.values, at_most=epsilon_us - 1)
        this_status, row = solve_lexicographic(selection, order, settings=settings, clock=clock)
        if row is None:
            if not rows:
                status = this_status
            elif this_status != INFEASIBLE:
                status = worst_status(status, FEASIBLE)
            break
        status = worst_status(status, this_status)
        rows.append(row)
        epsilon_us = int(levels.latency.values[row])
    rows.reverse()
    return status, rows


def undominated(levels: FrontLevels, rows: np.ndarray) -> np.ndarray:
    """Returns `rows` less those strictly dominated by another of `rows` on the front's two axes, ascending."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return rows
    lat = levels.latency.values[rows]
    thr = levels.throughput.values[rows]
    order = np.lexsort((-thr, lat))  # latency ascending, throughput descending within a latency
    lat_sorted, thr_sorted = lat[order], thr[order]
    group_start = np.r_[True, lat_sorted[1:] != lat_sorted[:-1]]
    group_id = np.cumsum(group_start) - 1
    group_best = thr_sorted[group_start]  # the first row of a latency group has its highest throughput
    # Highest throughput among strictly lower latencies (none for the first group).
    before = np.r_[np.iinfo(np.int64).min, np.maximum.accumulate(group_best)[:-1]]
    keep_sorted = (thr_sorted == group_best[group_id]) & (thr_sorted > before[group_id])
    return np.sort(rows[order[keep_sorted]])


def non_dominated_rows(problem: Problem, axes: str = "tpot-throughput") -> list[int]:
    """Returns the brute-force front over feasible rows (for tests and `enumerate` checks), lowest TPOT first.

    One row per non-dominated (TPOT, throughput) pair, chosen by the solver's tie-breaks.
    """
    levels = front_levels(problem, axes)
    rows = np.flatnonzero(problem.feasible)
    lat = levels.latency.values
    thr = levels.throughput.values
    order = rows[np.lexsort((levels.row.values[rows], levels.devices.values[rows], lat[rows], -thr[rows]))]
    front: list[int] = []
    best_latency = None
    for row in order.tolist():
        # Walking by throughput descending, a row is on the front iff it is strictly faster than every row before.
        if best_latency is None or lat[row] < best_latency:
            front.append(row)
            best_latency = lat[row]
    front.reverse()
    return front
