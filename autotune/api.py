"""The public Python API: load specs, estimate one layout, recommend, Pareto fronts, sweeps, enumerate.

Every function takes specs or names (a preset name or a file path), so that

    from autotune import recommend
    result = recommend("llama-3.1-70b", "rngd", cards=4, objective="throughput")
    print(result.to_dict())

works as the command line does. Results are typed (`autotune.results`) with `.to_dict()`.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from autotune.errors import InputError
from autotune.formulation import INFEASIBLE, OBJECTIVES, integer_tables, objective_levels, rank_order
from autotune.results import (Assumptions, EnumerateResult, ParetoResult, Recommendation, RecommendResult,
                              SweepPoint, SweepResult)
from autotune.search import BEST, BRUTE_FORCE, EVERY, Problem, build_problem
from autotune.solve import SolverSettings, best_rows
from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from autotune.specs.space import SearchSpace
from autotune.specs.workload import AUTO, Workload

if TYPE_CHECKING:
    from cost_models.params import CostParams

__all__ = ["Workload", "enumerate_candidates", "estimate", "load_hardware", "load_model", "load_space",
           "pareto", "recommend", "sweep"]

#: Largest fleet an alternative ("use N cards") may propose.
MAX_ALTERNATIVE_CARDS = 256
#: Most compute units (PEs or GPUs) a fleet may have: the candidate table grows about as units x log(units)
#: (1.7 million rows, 1.2 GB and 7 s for 4096 GPUs), so larger fleets are refused rather than exhausting memory.
MAX_FLEET_UNITS = 4096


def load_model(name_or_path: str | os.PathLike) -> ModelSpec:
    """Returns the ModelSpec of a preset name, a Hugging Face id, or a config.json path (or its folder)."""
    from autotune.specs.model_loader import load_model as _load
    return _load(str(name_or_path))


def load_hardware(name_or_path: str | os.PathLike) -> HardwareSpec:
    """Returns the HardwareSpec of a preset name or a YAML path."""
    from autotune.specs.hardware_loader import load_hardware as _load
    return _load(str(name_or_path))


def load_space(name_or_path: str | os.PathLike) -> SearchSpace:
    """Returns the SearchSpace of a preset name or a YAML path."""
    from autotune.specs.space import load_space as _load
    return _load(str(name_or_path))


def _model(value: ModelSpec | str | os.PathLike) -> ModelSpec:
    return value if isinstance(value, ModelSpec) else load_model(value)


def _hardware(value: HardwareSpec | str | os.PathLike) -> HardwareSpec:
    return value if isinstance(value, HardwareSpec) else load_hardware(value)


def _default_workload(model: ModelSpec, space: SearchSpace) -> Workload:
    """Returns the default workload, in the checkpoint's own formats where the space serves them."""
    from autotune.specs.workload import default_formats

    dtype, kv_dtype = default_formats(model, space.dtypes)
    return Workload(dtype=dtype, kv_dtype=kv_dtype)


def _space(value: SearchSpace | str | os.PathLike | None, hardware: HardwareSpec,
           release: str | None = None) -> SearchSpace:
    """Returns the space given, else the one covering `release`, else the hardware's default space."""
    from autotune.specs.space import check_space_covers, space_for_release

    if value is None and release is not None:
        return space_for_release(release)
    space = value if isinstance(value, SearchSpace) else load_space(hardware.default_space if value is None else value)
    if release is not None:
        check_space_covers(space, release)
    return space


def estimate(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
             tp: int, pp: int = 1, dp: int = 1, cards: int | None = None, space: SearchSpace | str | None = None,
             batch: int | str | None = None, params: CostParams | None = None, release: str | None = None):
    """Returns the costs and broken limits of one layout (`autotune.estimation.Estimate`, with `.to_dict()`).

    `cards` defaults to the fewest devices that hold the layout. The batch per replica is the
    workload's (a number, or 'auto': the largest that meets every limit); `batch` sets it when
    the workload leaves it 'auto', and giving both is an error.
    """
    from autotune.estimation import estimate as _estimate

    model, hardware = _model(model), _hardware(hardware)
    space = _space(space, hardware, release)
    workload = workload or _default_workload(model, space)
    if batch is not None:
        if workload.batch != AUTO and batch != workload.batch:
            raise InputError(source="estimate", field="batch", value=batch,
                             expected=f"no batch keyword when the workload sets one (workload batch {workload.batch})")
        workload = dataclasses.replace(workload, batch=batch)
    for name, value in (("--tp", tp), ("--pp", pp), ("--dp", dp)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= 1_000_000:
            raise InputError(source=name, value=value, expected="an integer in [1, 1000000]")
    return _estimate(model, hardware, workload, tp=int(tp), pp=int(pp), dp=int(dp), space=space, cards=cards,
                     params=params)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Request:
    """Resolved inputs of one request: specs, fleet, pinned degrees."""

    model: ModelSpec
    hardware: HardwareSpec
    space: SearchSpace
    workload: Workload
    cards: int
    tp: int | None = None
    pp: int | None = None
    dp: int | None = None
    params: CostParams | None = None

    def problem(self, workload: Workload | None = None, cards: int | None = None, *, batches: str = BEST) -> Problem:
        """Returns the search problem, optionally with another workload or fleet (`batches`: see `build_problem`)."""
        return build_problem(model=self.model, hardware=self.hardware, space=self.space,
                             workload=workload or self.workload, cards=cards or self.cards, params=self.params,
                             batches=batches,
                             pins={"tp": self.tp, "pp": self.pp, "dp": self.dp})

    def assumptions(self) -> Assumptions:
        w = self.workload
        return Assumptions(model=self.model.name, hardware=self.hardware.name, space=self.space.name,
                           cards=self.cards, dtype=w.dtype, kv_dtype=w.cache_dtype, input_len=w.input_len,
                           output_len=w.output_len, batch=w.batch, ttft_ms=w.ttft_ms, tpot_ms=w.tpot_ms,
                           device_name=self.hardware.device_name, unit_name=self.hardware.unit_name)


def resolve(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
            cards: int | None = None, space: SearchSpace | str | None = None, tp: int | None = None, pp: int | None = None,
            dp: int | None = None, params: CostParams | None = None, release: str | None = None) -> Request:
    """Returns the resolved request: specs loaded, default fleet (one machine) and space (the one covering
    `release`, else the hardware's)."""
    from autotune.rules import check_space_hardware

    model, hardware = _model(model), _hardware(hardware)
    space = _space(space, hardware, release)
    check_space_hardware(space, hardware)
    workload = workload or _default_workload(model, space)
    if cards is None:
        cards = hardware.devices_per_node
    most = MAX_FLEET_UNITS // hardware.compute_units_per_device
    if isinstance(cards, bool) or not isinstance(cards, (int, np.integer)) or not 1 <= cards <= most:
        raise InputError(source="--cards", value=cards,
                         expected=f"an integer in [1, {most}] ({hardware.name}: at most {MAX_FLEET_UNITS} "
                                  f"{hardware.unit_name}s in one search)")
    for name, value in (("--tp", tp), ("--pp", pp), ("--dp", dp)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InputError(source=name, value=value, expected="an integer >= 1")
    for label, dtype, allowed in (("--dtype", workload.dtype, space.dtypes),
                                  ("--kv-dtype", workload.cache_dtype, space.kv_dtypes)):
        if dtype not in allowed:
            raise InputError(source=label, value=dtype,
                             expected=f"a format {space.name} serves: " + ", ".join(allowed))
    return Request(model=model, hardware=hardware, space=space, workload=workload, cards=int(cards),
                   tp=tp, pp=pp, dp=dp, params=params)


def _recommendation(problem: Problem, row: int, *, binding: bool = False) -> Recommendation:
    return Recommendation(plan=problem.plan(row), metrics=problem.metrics(row),
                          binding=binding_for_larger_batch(problem, row) if binding else ())


def binding_for_larger_batch(problem: Problem, row: int) -> tuple[str, ...]:
    """Returns, in words with numbers, the limits that stop the same layout at the next larger batch.

    E.g. "TPOT 99.60 ms of the 100 ms SLO (batch 22: TPOT 100.41 ms of the 100 ms SLO)". Empty when
    the next larger batch of the layout is not a row or breaks nothing.
    """
    c = problem.candidates
    same = (c.tp == c.tp[row]) & (c.pp == c.pp[row]) & (c.dp == c.dp[row]) & (c.batch == c.batch[row] + 1)
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


def recommend(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
              cards: int | None = None, space: SearchSpace | str | None = None, objective: str = "throughput", top: int = 1,
              tp: int | None = None, pp: int | None = None, dp: int | None = None,
              time_limit_s: float | None = None, explain: bool = True, alternatives: bool = True,
              params: CostParams | None = None, release: str | None = None) -> RecommendResult:
    """Returns the `top` best configurations for `objective` (best first), or why none fits.

    With batch 'auto' the batch per replica is a decision too: throughput favours the largest
    batch that fits, while latency (TPOT), ttft and e2e favour batch 1.
    """
    _check_objective(objective)
    request = resolve(model, hardware, workload, cards=cards, space=space, tp=tp, pp=pp, dp=dp, params=params,
                      release=release)
    settings = SolverSettings(time_limit_s=time_limit_s)
    problem = request.problem()
    return _recommend_problem(request, problem, objective=objective, top=top, settings=settings, explain=explain,
                              alternatives=alternatives)


def _recommend_problem(request: Request, problem: Problem, *, objective: str, top: int, settings: SolverSettings,
                       explain: bool, alternatives: bool = True) -> RecommendResult:
    status, rows = best_rows(problem, objective, top=top, settings=settings)
    counts = {"candidates_total": len(problem.candidates), "candidates_feasible": int(problem.feasible.sum())}
    if rows:
        recs = tuple(_recommendation(problem, r, binding=True) for r in rows)
        return RecommendResult(status=status, objective=objective, recommendations=recs,
                               assumptions=request.assumptions(), **counts)
    reasons: tuple[str, ...] = ()
    limit_ids: tuple[str, ...] = ()
    found_alternatives = ()
    if explain and status == INFEASIBLE:
        from autotune import explain as why
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


def pareto(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
           cards: int | None = None, space: SearchSpace | str | None = None, axes: str = "tpot-throughput",
           tp: int | None = None, pp: int | None = None, dp: int | None = None,
           time_limit_s: float | None = None, params: CostParams | None = None,
           release: str | None = None) -> ParetoResult:
    """Returns the exact Pareto front on `axes` ('tpot-throughput' or 'user-card'), lowest TPOT first."""
    from autotune import explain as why
    from autotune.pareto_front import AXES, pareto_rows

    if axes not in AXES:
        raise InputError(source="--axes", value=axes, expected="one of " + ", ".join(AXES))
    request = resolve(model, hardware, workload, cards=cards, space=space, tp=tp, pp=pp, dp=dp, params=params,
                      release=release)
    settings = SolverSettings(time_limit_s=time_limit_s)
    problem = request.problem(batches=EVERY)  # every integer batch: each one can be a point of the front
    status, rows = pareto_rows(problem, axes, settings=settings)
    reasons: tuple[str, ...] = ()
    if not rows and status == INFEASIBLE:
        reasons = why.reasons(problem, why.binding_limits(problem, settings=settings))
    return ParetoResult(status=status, axes=AXES[axes], points=tuple(_recommendation(problem, r) for r in rows),
                        assumptions=request.assumptions(), reasons=reasons)


#: What `enumerate_candidates` lists (`--batches`).
ENUMERATE_BATCHES = ("candidates", "every", "layout-best")


def enumerate_candidates(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
                         cards: int | None = None, space: SearchSpace | str | None = None, objective: str = "throughput",
                         tp: int | None = None, pp: int | None = None, dp: int | None = None,
                         params: CostParams | None = None, release: str | None = None,
                         batches: str = "candidates") -> EnumerateResult:
    """Returns candidates with metrics and violations: feasible rows first, each group in the
    objective's order (the solver's tie-breaks), so the first row is what `recommend` returns.

    `batches` (for batch 'auto'): 'candidates', the rows the solver chooses among (each layout's
    best batch per objective, its largest feasible batch and the next); 'every', every integer
    batch of every layout from 1 to one past what memory and the runtime allow (the brute force);
    'layout-best', each layout once, at its best batch by that brute force.
    """
    _check_objective(objective)
    if batches not in ENUMERATE_BATCHES:
        raise InputError(source="--batches", value=batches, expected="one of " + ", ".join(ENUMERATE_BATCHES))
    request = resolve(model, hardware, workload, cards=cards, space=space, tp=tp, pp=pp, dp=dp, params=params,
                      release=release)
    problem = request.problem(batches=BEST if batches == "candidates" else BRUTE_FORCE)
    levels = objective_levels(objective, integer_tables(problem.table))
    feasible = rank_order(levels, np.flatnonzero(problem.feasible))
    infeasible = rank_order(levels, np.flatnonzero(~problem.feasible))
    if batches == "layout-best":
        feasible = first_per_layout(problem, feasible)
        done = {layout_key(problem, r) for r in feasible.tolist()}
        infeasible = np.array([r for r in first_per_layout(problem, np.sort(infeasible)).tolist()
                               if layout_key(problem, r) not in done], dtype=np.int64)
        infeasible = rank_order(levels, infeasible)
    order = np.concatenate([feasible, infeasible])
    return EnumerateResult(objective=objective, candidates=tuple(_recommendation(problem, int(r)) for r in order),
                           assumptions=request.assumptions(), feasible_count=len(feasible),
                           total_count=len(order))


def layout_key(problem: Problem, row: int) -> tuple[int, int, int]:
    """Returns the layout (TP, PP, DP) of `row`."""
    c = problem.candidates
    return int(c.tp[row]), int(c.pp[row]), int(c.dp[row])


def first_per_layout(problem: Problem, rows: np.ndarray) -> np.ndarray:
    """Returns the first row of each layout in `rows`, in the order of `rows`."""
    seen: set[tuple[int, int, int]] = set()
    keep = []
    for row in np.asarray(rows, dtype=np.int64).tolist():
        key = layout_key(problem, row)
        if key not in seen:
            seen.add(key)
            keep.append(row)
    return np.array(keep, dtype=np.int64)


def only_feasible(result: EnumerateResult) -> EnumerateResult:
    """Returns `result` keeping the feasible candidates only."""
    return dataclasses.replace(result, candidates=result.candidates[:result.feasible_count])


def first_candidates(result: EnumerateResult, count: int) -> EnumerateResult:
    """Returns `result` keeping its first `count` candidates (the order is unchanged)."""
    return dataclasses.replace(result, candidates=result.candidates[:count])


def parse_cards(text: str, *, source: str = "--cards") -> tuple[int, ...]:
    """Returns the card counts of '1..64', '1,2,4,8' or a mix (see `autotune.sweeps.parse_cards`)."""
    from autotune.sweeps import parse_cards as _parse
    return _parse(text, source=source)


def sweep(models: Sequence[ModelSpec | str] | ModelSpec | str, hardware: HardwareSpec | str,
          workload: Workload | None = None, *, cards: Sequence[int] | str, dtypes: Sequence[str] | None = None,
          input_lens: Sequence[int] | None = None, space: SearchSpace | str | None = None, objective: str = "throughput",
          time_limit_s: float | None = None, jobs: int = 1,
          progress: Callable[[int, int], None] | None = None, params: CostParams | None = None,
          release: str | None = None) -> SweepResult:
    """Returns the best configuration for every point of models x dtypes x input lengths x card counts.

    `jobs` > 1 solves points in that many processes; `progress(done, total)` is called as points finish.
    """
    from autotune import sweeps

    _check_objective(objective)
    workload = workload or Workload()
    card_counts = parse_cards(cards) if isinstance(cards, str) else tuple(int(c) for c in cards)
    model_list = [models] if isinstance(models, (str, os.PathLike, ModelSpec)) else list(models)
    model_specs = [_model(m) for m in model_list]
    hardware_spec = _hardware(hardware)
    space_spec = _space(space, hardware_spec, release)
    tasks = sweeps.sweep_tasks(model_specs, hardware_spec, space_spec, workload, cards=card_counts,
                                 dtypes=dtypes, input_lens=input_lens, objective=objective,
                                 time_limit_s=time_limit_s, params=params)
    checked = set()
    for task in tasks:  # Input errors (a dtype the space does not serve, ...) before any solving.
        key = (id(task.model), task.workload)
        if key not in checked:
            resolve(task.model, hardware_spec, task.workload, cards=max(card_counts), space=space_spec)
            checked.add(key)
    points = sweeps.run_tasks(tasks, jobs=jobs, progress=progress)
    return SweepResult(objective=objective, points=points)


def solve_sweep_point(task) -> SweepPoint:
    """Returns the sweep point of one task (top-level, so that worker processes can run it)."""
    request = resolve(task.model, task.hardware, task.workload, cards=task.cards, space=task.space,
                      params=task.params)
    result = _recommend_problem(request, request.problem(), objective=task.objective, top=1,
                                settings=SolverSettings(time_limit_s=task.time_limit_s), explain=True,
                                alternatives=False)
    best = result.recommendations[0] if result.recommendations else None
    return SweepPoint(cards=task.cards, model=task.model.name, dtype=task.workload.dtype,
                      input_len=task.workload.input_len, status=result.status, recommendation=best,
                      reasons=result.reasons)


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise InputError(source="--objective", value=objective, expected="one of " + ", ".join(OBJECTIVES))
