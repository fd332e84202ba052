"""Solving: the best rows of a Problem for an objective, with the CP-SAT proof status.

Each objective is lexicographic (see `formulation.objective_levels`): CP-SAT optimises level 1,
the level is then fixed at its optimum and the next level optimised, down to the row index,
which makes the answer unique and equal to `enumerate`'s first row. The top K are found by
solving again with the earlier answers excluded.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from autotune.solver.formulation import (FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN, ObjectiveLevel, SelectionModel,
                                  build_limit_model, build_selection_model, integer_tables, objective_levels)
from autotune.solver.search import Problem


@dataclass(frozen=True, kw_only=True)
class SolverSettings:
    """How CP-SAT runs: a fixed worker count and seed make answers reproducible."""

    time_limit_s: float | None = None
    """Wall-time budget for one request (all its solves); None: until proven."""
    num_workers: int = 1
    """One worker: these models solve in milliseconds, and a single worker is deterministic."""
    random_seed: int = 0


class Clock:
    """The wall-time budget of one request, shared by its solves."""

    def __init__(self, limit_s: float | None) -> None:
        self.deadline = None if limit_s is None else time.perf_counter() + limit_s

    def remaining_s(self) -> float | None:
        if self.deadline is None:
            return None
        return max(self.deadline - time.perf_counter(), 0.0)


def _solver(settings: SolverSettings, clock: Clock) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = settings.num_workers
    solver.parameters.random_seed = settings.random_seed
    remaining = clock.remaining_s()
    if remaining is not None:
        solver.parameters.max_time_in_seconds = max(remaining, 1e-3)
    return solver


_STATUS_NAMES = {
    cp_model.OPTIMAL: OPTIMAL,
    cp_model.FEASIBLE: FEASIBLE,
    cp_model.INFEASIBLE: INFEASIBLE,
    cp_model.UNKNOWN: UNKNOWN,
    cp_model.MODEL_INVALID: "MODEL_INVALID",
}


def solve_lexicographic(selection: SelectionModel, levels: tuple[ObjectiveLevel, ...], *,
                        settings: SolverSettings, clock: Clock | None = None) -> tuple[str, int | None]:
    """Returns (status, chosen row) after optimising `levels` in order.

    Status is OPTIMAL when every level was proven optimal; FEASIBLE when the time limit stopped
    a level early (the row is the best found, not proven); INFEASIBLE when no row is allowed;
    UNKNOWN when the time ran out before any row was found.
    """
    clock = clock or Clock(settings.time_limit_s)
    row = None
    for level in levels:
        selection.set_objective(level)
        solver = _solver(settings, clock)
        code = solver.solve(selection.model)
        status = _STATUS_NAMES.get(code, UNKNOWN)
        if status not in (OPTIMAL, FEASIBLE):
            return (status if row is None else FEASIBLE), row
        chosen = [k for k, var in enumerate(selection.use) if solver.boolean_value(var)]
        row = int(selection.rows[chosen[0]])
        if status == FEASIBLE:
            return FEASIBLE, row
        selection.fix_level(level, int(level.values[row]))
    return OPTIMAL, row


def worst_status(a: str, b: str) -> str:
    """Returns the weaker of two statuses (OPTIMAL < FEASIBLE < UNKNOWN < INFEASIBLE)."""
    order = (OPTIMAL, FEASIBLE, UNKNOWN, INFEASIBLE)
    return a if order.index(a) >= order.index(b) else b


def best_rows(problem: Problem, objective: str, *, top: int = 1,
              settings: SolverSettings | None = None) -> tuple[str, list[int]]:
    """Returns (status, the best rows of up to `top` distinct layouts, best first) for `objective` over feasible rows.

    A runner-up is another layout (TP, PP, DP, EP, ADP) at its own best batch, not the same layout one
    sequence smaller.

    Status is that of the first solve (INFEASIBLE when nothing fits), degraded to FEASIBLE if a
    time limit cut any later solve short.
    """
    settings = settings or SolverSettings()
    clock = Clock(settings.time_limit_s)
    levels = objective_levels(objective, integer_tables(problem.table))
    candidates = problem.candidates
    excluded: list[int] = []
    rows: list[int] = []
    status = OPTIMAL
    feasible_rows = np.flatnonzero(problem.feasible)
    for k in range(max(top, 1)):
        # A fresh model per answer: the previous answer's level constraints must not carry over.
        selection = build_selection_model(rows=feasible_rows, tp=candidates.tp, pp=candidates.pp,
                                          dp=candidates.dp, batch=candidates.batch, ep=candidates.ep,
                                          adp=candidates.adp)
        for row in excluded:
            selection.forbid(same_layout(candidates, row)[selection.rows])
        this_status, row = solve_lexicographic(selection, levels, settings=settings, clock=clock)
        if row is None:
            if k == 0:
                status = this_status
            elif this_status == UNKNOWN:
                status = worst_status(status, FEASIBLE)
            break
        status = worst_status(status, this_status)
        rows.append(row)
        excluded.append(row)
    return status, rows


def same_layout(candidates, row: int) -> np.ndarray:
    """Returns a Boolean mask over all candidate rows: those with the layout (TP, PP, DP, EP, ADP) of `row`."""
    c = candidates
    return ((c.tp == c.tp[row]) & (c.pp == c.pp[row]) & (c.dp == c.dp[row]) & (c.ep == c.ep[row])
            & (c.adp == c.adp[row]))


def infeasible_core(violations: dict[str, np.ndarray], *,
                    settings: SolverSettings | None = None) -> tuple[str, ...]:
    """Returns a minimal set of limit ids that together exclude every row (empty if some row fits).

    CP-SAT's `sufficient_assumptions_for_infeasibility` gives a set of enforced limits that is
    infeasible; each is then dropped in turn and kept out when the rest stays infeasible, so
    that every limit left is needed.
    """
    settings = settings or SolverSettings()
    limit_model = build_limit_model(violations)
    literals = limit_model.literals
    index_to_id = {lit.index: limit_id for limit_id, lit in literals.items()}

    def infeasible_with(ids: list[str]) -> tuple[bool, list[str]]:
        limit_model.model.clear_assumptions()
        limit_model.model.add_assumptions([literals[i] for i in ids])
        solver = _solver(settings, Clock(None))
        code = solver.solve(limit_model.model)
        if code != cp_model.INFEASIBLE:
            return False, []
        core = [index_to_id[i] for i in solver.sufficient_assumptions_for_infeasibility() if i in index_to_id]
        return True, core or ids

    infeasible, core = infeasible_with(sorted(literals))
    if not infeasible:
        return ()
    core = sorted(set(core))
    for limit_id in list(core):
        trial = [i for i in core if i != limit_id]
        still, _ = infeasible_with(trial)
        if still:
            core = trial
    return tuple(core)
