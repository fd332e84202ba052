"""Answers of one solved problem: the typed recommendations, and why nothing fits when nothing does."""
from __future__ import annotations

import numpy as np

from autotune.results import Recommendation, RecommendResult
from autotune.solver.formulation import INFEASIBLE
from autotune.solver.request import MAX_ALTERNATIVE_CARDS, MAX_FLEET_UNITS, Request
from autotune.solver.search import Problem
from autotune.solver.solve import SolverSettings, best_rows, same_layout


def recommendation(problem: Problem, row: int, *, binding: bool = False) -> Recommendation:
    return Recommendation(plan=problem.plan(row), metrics=problem.metrics(row),
                          binding=binding_for_larger_batch(problem, row) if binding else ())


def binding_for_larger_batch(problem: Problem, row: int) -> tuple[str, ...]:
    """Returns, in words with numbers, the limits that stop the same layout at the next larger batch.

    E.g. "TPOT 99.60 ms of the 100 ms SLO (batch 22: TPOT 100.41 ms of the 100 ms SLO)". Empty when
    the next larger batch of the layout is not a row or breaks nothing.
    """
    c = problem.candidates
    same = same_layout(c, row) & (c.batch == c.batch[row] + 1)
    larger = np.flatnonzero(same)
    if len(larger) == 0:
        return ()
    nxt = int(larger[0])
    out = []
    for limit in problem.limits:
        if limit.violated[nxt] and not limit.violated[row]:
            if limit.standing is None:
                out.append(limit.message(nxt))
            else:
                out.append(f"{limit.standing(row)} (batch {int(c.batch[nxt])}: {limit.standing(nxt)})")
    return tuple(dict.fromkeys(out))


def recommend_problem(request: Request, problem: Problem, *, objective: str, top: int, settings: SolverSettings,
                       explain: bool, alternatives: bool = True) -> RecommendResult:
    status, rows = best_rows(problem, objective, top=top, settings=settings)
    counts = {"candidates_total": len(problem.candidates), "candidates_feasible": int(problem.feasible.sum())}
    if rows:
        recs = tuple(recommendation(problem, r, binding=True) for r in rows)
        return RecommendResult(status=status, objective=objective, recommendations=recs,
                               assumptions=request.assumptions(), **counts)
    reasons: tuple[str, ...] = ()
    limit_ids: tuple[str, ...] = ()
    found_alternatives = ()
    if explain and status == INFEASIBLE:
        from autotune.solver import explain as why

        limit_ids = why.binding_limits(problem, settings=settings)
        reasons = why.reasons(problem, limit_ids)
        if alternatives:
            found_alternatives = why.alternatives(
                problem, lambda w, c: request.problem(w, c), objective, dtypes=request.space.dtypes,
                kv_dtypes=request.space.kv_dtypes,
                settings=settings, max_cards=min(max(MAX_ALTERNATIVE_CARDS, request.cards),
                                                     MAX_FLEET_UNITS // request.hardware.compute_units_per_device))
    return RecommendResult(status=status, objective=objective, recommendations=(),
                           assumptions=request.assumptions(), reasons=reasons, binding_limit_ids=limit_ids,
                           alternatives=found_alternatives, **counts)
