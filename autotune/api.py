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
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from autotune.errors import InputError
from autotune.results import EnumerateResult, ParetoResult, RecommendResult, SweepResult
from autotune.solver.answers import recommend_problem, recommendation
from autotune.solver.formulation import INFEASIBLE, OPTIMAL, integer_tables, objective_levels, rank_order
from autotune.solver.request import check_objective, resolve
from autotune.solver.search import BEST, BRUTE_FORCE, EVERY, Problem
from autotune.solver.solve import SolverSettings
from autotune.specs.hardware import HardwareSpec
from autotune.specs.inputs import as_hardware, as_model, as_space, default_workload, load_hardware, load_model, load_space
from autotune.specs.model import ModelSpec
from autotune.specs.space import SearchSpace
from autotune.specs.workload import AUTO, Workload

if TYPE_CHECKING:
    from cost_models.params import CostParams

__all__ = ["Workload", "enumerate_candidates", "estimate", "load_hardware", "load_model", "load_space",
           "pareto", "recommend", "resolve", "sweep"]


def estimate(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
             tp: int, pp: int = 1, dp: int = 1, cards: int | None = None, space: SearchSpace | str | None = None,
             batch: int | str | None = None, params: CostParams | None = None, release: str | None = None,
             ep: int = 1, adp: int = 1):
    """Returns the costs and broken limits of one layout (`autotune.solver.estimation.Estimate`, with `.to_dict()`).

    `cards` defaults to the fewest devices that hold the layout. The batch per replica is the
    workload's (a number, or 'auto': the largest that meets every limit); `batch` sets it when
    the workload leaves it 'auto', and giving both is an error.
    """
    from autotune.solver.estimation import estimate as _estimate

    model, hardware = as_model(model), as_hardware(hardware)
    space = as_space(space, hardware, release)
    workload = workload or default_workload(model, space)
    if batch is not None:
        if workload.batch != AUTO and batch != workload.batch:
            raise InputError(source="estimate", field="batch", value=batch,
                             expected=f"no batch keyword when the workload sets one (workload batch {workload.batch})")
        workload = dataclasses.replace(workload, batch=batch)
    for name, value in (("--tp", tp), ("--pp", pp), ("--dp", dp), ("--ep", ep), ("--adp", adp)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= 1_000_000:
            raise InputError(source=name, value=value, expected="an integer in [1, 1000000]")
    return _estimate(model, hardware, workload, tp=int(tp), pp=int(pp), dp=int(dp), space=space, cards=cards,
                     params=params, ep=int(ep), adp=int(adp))


def recommend(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
              cards: int | None = None, space: SearchSpace | str | None = None, objective: str = "throughput", top: int = 1,
              tp: int | None = None, pp: int | None = None, dp: int | None = None,
              ep: int | None = None, adp: int | None = None,
              time_limit_s: float | None = None, explain: bool = True, alternatives: bool = True,
              params: CostParams | None = None, release: str | None = None, rate: float | None = None,
              concurrency: int | None = None, lengths_file: str | os.PathLike | None = None,
              slo_percentile: int = 90, engine: str | None = None, requests: int = 600,
              seed: int = 0, mode: str | None = None) -> RecommendResult:
    """Returns the `top` best configurations for `objective` (best first), or why none fits.

    With batch 'auto' the batch per replica is a decision too: throughput favours the largest
    batch that fits, while latency (TPOT), ttft and e2e favour batch 1.

    Under traffic (`rate` requests/s, or `concurrency` clients; lengths from the workload or a
    `lengths_file` sample), the serving simulator judges each layout and engine batch limit
    (max_num_seqs, every integer that fits), the workload's SLOs bound the `slo_percentile` of TTFT
    and TPOT, and `objective` may also be 'goodput' (`autotune.solver.under_load`).

    `tp`, `pp`, `dp`, `ep` (expert parallel) and `adp` (attention data parallel) pin degrees; the rest is searched.

    `mode` (with `rate` only): 'agg' (one pool of replicas), 'disagg' (a prefill pool and a decode pool,
    `autotune.solver.disagg_search`) or 'both', which compares them on the same devices and SLOs; None: 'both'
    where the engine runs disaggregation and the objective is throughput or goodput, else 'agg'.
    """
    from autotune.solver.disagg_answers import check_mode_needs_rate

    check_mode_needs_rate(mode, rate)
    if rate is not None or concurrency is not None:
        return recommend_under_load(model, hardware, workload, cards=cards, space=space, objective=objective,
                                    top=top, tp=tp, pp=pp, dp=dp, ep=ep, adp=adp, params=params, release=release,
                                    time_limit_s=time_limit_s, rate=rate,
                                    concurrency=concurrency, lengths_file=lengths_file,
                                    slo_percentile=slo_percentile, engine=engine, requests=requests, seed=seed,
                                    mode=mode)
    check_objective(objective)
    request = resolve(model, hardware, workload, cards=cards, space=space, tp=tp, pp=pp, dp=dp, params=params,
                      release=release, ep=ep, adp=adp)
    settings = SolverSettings(time_limit_s=time_limit_s)
    problem = request.problem()
    return recommend_problem(request, problem, objective=objective, top=top, settings=settings, explain=explain,
                              alternatives=alternatives)


def recommend_under_load(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
                         cards: int | None = None, space: SearchSpace | str | None = None,
                         objective: str = "throughput", top: int = 1, tp: int | None = None, pp: int | None = None,
                         dp: int | None = None, ep: int | None = None, adp: int | None = None,
                         params: CostParams | None = None, release: str | None = None,
                         time_limit_s: float | None = None, rate: float | None = None,
                         concurrency: int | None = None,
                         lengths_file: str | os.PathLike | None = None, slo_percentile: int = 90,
                         engine: str | None = None, requests: int = 600, seed: int = 0,
                         mode: str | None = None) -> RecommendResult:
    """Returns `recommend` under traffic: see `recommend`, `autotune.solver.under_load` and, for `mode`,
    `autotune.solver.disagg_answers`."""
    from autotune.solver import disagg_answers, load_answers, under_load

    if objective not in under_load.LOAD_OBJECTIVES:
        raise InputError(source="--objective", value=objective,
                         expected="one of " + ", ".join(under_load.LOAD_OBJECTIVES))
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise InputError(source="--top", value=top, expected="an integer >= 1")
    request, load = under_load.resolve_under_load(
        model, hardware, workload, cards=cards, space=space, tp=tp, pp=pp, dp=dp, ep=ep, adp=adp, params=params,
        release=release, rate=rate, concurrency=concurrency, lengths_file=lengths_file, slo_percentile=slo_percentile,
        engine=engine, requests=requests, seed=seed)
    if load.rate_per_s is not None:
        chosen = disagg_answers.resolve_mode(mode, request, load, objective)
        return disagg_answers.recommend_modes(request, load, objective, mode=chosen, top=top,
                                              time_limit_s=time_limit_s)
    answer = under_load.search(request, load, objective, top=top, time_limit_s=time_limit_s)
    return load_answers.answers(request, load, answer, objective)


def pareto(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
           cards: int | None = None, space: SearchSpace | str | None = None, axes: str = "tpot-throughput",
           tp: int | None = None, pp: int | None = None, dp: int | None = None,
           ep: int | None = None, adp: int | None = None,
           time_limit_s: float | None = None, params: CostParams | None = None,
           release: str | None = None, rate: float | None = None, concurrency: int | None = None,
           lengths_file: str | os.PathLike | None = None, slo_percentile: int = 90, engine: str | None = None,
           requests: int = 600, seed: int = 0, mode: str | None = None) -> ParetoResult:
    """Returns the exact Pareto front on `axes` ('tpot-throughput' or 'user-card'), lowest TPOT first.

    Under traffic (`rate` or `concurrency`, as for `recommend`), the points are simulated settings
    (layout and max_num_seqs) that meet the SLO percentiles: TPOT at that percentile against the
    output tokens/s served. `mode` (with `rate`, as for `recommend`) adds disaggregated deployments as points
    (`autotune.solver.disagg_answers.front_modes`).
    """
    from autotune.solver import explain as why
    from autotune.solver.disagg_answers import check_mode_needs_rate
    from autotune.solver.pareto_front import AXES, pareto_rows

    check_mode_needs_rate(mode, rate)
    if axes not in AXES:
        raise InputError(source="--axes", value=axes, expected="one of " + ", ".join(AXES))
    if rate is not None or concurrency is not None:
        return _pareto_under_load(model, hardware, workload, cards=cards, space=space, axes=axes, tp=tp, pp=pp,
                                  dp=dp, ep=ep, adp=adp, params=params, release=release, rate=rate,
                                  concurrency=concurrency,
                                  lengths_file=lengths_file, slo_percentile=slo_percentile, engine=engine,
                                  requests=requests, seed=seed, mode=mode)
    request = resolve(model, hardware, workload, cards=cards, space=space, tp=tp, pp=pp, dp=dp, params=params,
                      release=release, ep=ep, adp=adp)
    settings = SolverSettings(time_limit_s=time_limit_s)
    problem = request.problem(batches=EVERY)  # every integer batch: each one can be a point of the front
    status, rows = pareto_rows(problem, axes, settings=settings)
    reasons: tuple[str, ...] = ()
    if not rows and status == INFEASIBLE:
        reasons = why.reasons(problem, why.binding_limits(problem, settings=settings))
    return ParetoResult(status=status, axes=AXES[axes], points=tuple(recommendation(problem, r) for r in rows),
                        assumptions=request.assumptions(), reasons=reasons)


def _pareto_under_load(model, hardware, workload, *, axes: str, mode: str | None = None, **keywords) -> ParetoResult:
    from autotune.solver import disagg_answers, load_answers, under_load
    from autotune.solver.pareto_front import AXES

    request, load = under_load.resolve_under_load(model, hardware, workload, **keywords)
    if load.rate_per_s is not None:
        chosen = disagg_answers.resolve_mode(mode, request, load, "throughput")
        if chosen != "agg":
            return disagg_answers.front_modes(request, load, axes=axes, mode=chosen)
    evaluator = under_load.Evaluator(request, load)
    points, rejected = under_load.front(request, load, per_device=axes == "user-card", evaluator=evaluator)
    layouts = len(under_load.layouts_of(request))
    assumptions = dataclasses.replace(request.assumptions(), load=load_answers.load_assumptions(
        load, layouts_simulated=layouts, simulations=len(evaluator.cache)))
    return ParetoResult(status=OPTIMAL if points else INFEASIBLE, axes=AXES[axes],
                        points=tuple(load_answers.to_recommendation(request, load, o) for o in points),
                        assumptions=assumptions,
                        reasons=() if points else load_answers.rejection_reasons(request, rejected))


#: What `enumerate_candidates` lists (`--batches`).
ENUMERATE_BATCHES = ("candidates", "every", "layout-best")


def enumerate_candidates(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
                         cards: int | None = None, space: SearchSpace | str | None = None, objective: str = "throughput",
                         tp: int | None = None, pp: int | None = None, dp: int | None = None,
                         params: CostParams | None = None, release: str | None = None,
                         batches: str = "candidates", ep: int | None = None,
                         adp: int | None = None) -> EnumerateResult:
    """Returns candidates with metrics and violations: feasible rows first, each group in the
    objective's order (the solver's tie-breaks), so the first row is what `recommend` returns.

    `batches` (for batch 'auto'): 'candidates', the rows the solver chooses among (each layout's
    best batch per objective, its largest feasible batch and the next); 'every', every integer
    batch of every layout from 1 to one past what memory and the runtime allow (the brute force);
    'layout-best', each layout once, at its best batch by that brute force.
    """
    check_objective(objective)
    if batches not in ENUMERATE_BATCHES:
        raise InputError(source="--batches", value=batches, expected="one of " + ", ".join(ENUMERATE_BATCHES))
    request = resolve(model, hardware, workload, cards=cards, space=space, tp=tp, pp=pp, dp=dp, params=params,
                      release=release, ep=ep, adp=adp)
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
    return EnumerateResult(objective=objective, candidates=tuple(recommendation(problem, int(r)) for r in order),
                           assumptions=request.assumptions(), feasible_count=len(feasible),
                           total_count=len(order))


def layout_key(problem: Problem, row: int) -> tuple[int, int, int, int, int]:
    """Returns the layout (TP, PP, DP, EP, ADP) of `row`."""
    c = problem.candidates
    return int(c.tp[row]), int(c.pp[row]), int(c.dp[row]), int(c.ep[row]), int(c.adp[row])


def first_per_layout(problem: Problem, rows: np.ndarray) -> np.ndarray:
    """Returns the first row of each layout in `rows`, in the order of `rows`."""
    seen: set[tuple[int, int, int, int, int]] = set()
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
    """Returns the card counts of '1..64', '1,2,4,8' or a mix (see `autotune.solver.sweeps.parse_cards`)."""
    from autotune.solver.sweeps import parse_cards as _parse
    return _parse(text, source=source)


def sweep(models: Sequence[ModelSpec | str] | ModelSpec | str, hardware: HardwareSpec | str,
          workload: Workload | None = None, *, cards: Sequence[int] | str, dtypes: Sequence[str] | None = None,
          input_lens: Sequence[int] | None = None, space: SearchSpace | str | None = None, objective: str = "throughput",
          time_limit_s: float | None = None, jobs: int = 1, ray_address: str | None = None,
          progress: Callable[[int, int], None] | None = None, params: CostParams | None = None,
          release: str | None = None, rate: float | None = None, concurrency: int | None = None,
          lengths_file: str | os.PathLike | None = None, slo_percentile: int = 90, engine: str | None = None,
          requests: int = 600, seed: int = 0, mode: str | None = None) -> SweepResult:
    """Returns the best configuration for every point of models x dtypes x input lengths x card counts.

    `jobs` > 1 solves points in that many processes, `ray_address` as Ray tasks ('local', 'auto' or
    host:port; `autotune.solver.fanout`); `progress(done, total)` is called as points finish.
    Under traffic (`rate` or `concurrency`, as for `recommend`) each point is `recommend` under that load, in
    `mode` (as for `recommend`: agg, disagg or both; each point's best of them).
    """
    from autotune.solver import sweeps
    from autotune.solver.disagg_answers import check_mode_needs_rate
    from autotune.solver.fanout import check_fan_out
    from autotune.solver.under_load import LOAD_OBJECTIVES

    load = None
    check_mode_needs_rate(mode, rate)
    if rate is not None or concurrency is not None:
        if objective not in LOAD_OBJECTIVES:
            raise InputError(source="--objective", value=objective, expected="one of " + ", ".join(LOAD_OBJECTIVES))
        load = {"rate": rate, "concurrency": concurrency, "lengths_file": lengths_file,
                "slo_percentile": slo_percentile, "engine": engine, "requests": requests, "seed": seed}
        if mode is not None:
            load["mode"] = mode
    else:
        check_objective(objective)
    check_fan_out(jobs=jobs, ray_address=ray_address)
    workload = workload or Workload()
    card_counts = parse_cards(cards) if isinstance(cards, str) else tuple(int(c) for c in cards)
    model_list = [models] if isinstance(models, (str, os.PathLike, ModelSpec)) else list(models)
    model_specs = [as_model(m) for m in model_list]
    hardware_spec = as_hardware(hardware)
    space_spec = as_space(space, hardware_spec, release)
    tasks = sweeps.sweep_tasks(model_specs, hardware_spec, space_spec, workload, cards=card_counts,
                                 dtypes=dtypes, input_lens=input_lens, objective=objective,
                                 time_limit_s=time_limit_s, params=params, load=load)
    checked = set()
    for task in tasks:  # Input errors (a dtype the space does not serve, ...) before any solving.
        key = (id(task.model), task.workload)
        if key not in checked:
            resolve(task.model, hardware_spec, task.workload, cards=max(card_counts), space=space_spec)
            checked.add(key)
    points = sweeps.run_tasks(tasks, jobs=jobs, ray_address=ray_address, progress=progress)
    if load is not None:
        load = {k: (os.fspath(v) if k == "lengths_file" and v is not None else v) for k, v in load.items()}
    return SweepResult(objective=objective, points=points, load=load)




def import_bench(files: Sequence[str | os.PathLike] | str | os.PathLike, *, hardware: HardwareSpec | str,
                 model: str | None = None, base_model: str | None = None, tp: int | None = None,
                 pp: int | None = None, dp: int | None = None, ep: int | None = None, dtype: str | None = None,
                 kv_dtype: str | None = None, engine: str | None = None, concurrency: int | None = None,
                 request_rate: float | None = None, input_len: int | None = None, output_len: int | None = None,
                 format: str | None = None, output: str | os.PathLike | None = None):
    """Returns the measurement rows (`cost_models.bench_import.ImportResult`) of benchmark result files.

    What the files do not state (the hardware, the layout, the weight format, the engine) comes from
    the keywords; a keyword that contradicts a file is an InputError naming both. `output`: also write
    the rows as a measurement CSV (the columns of cost_models/data/calibration.csv) there.
    """
    from cost_models.bench_import import BenchFlags, import_files, write_csv
    from autotune.specs.dtypes import USER_DTYPES

    for name, value in (("dtype", dtype), ("kv_dtype", kv_dtype)):
        if value is not None and value not in USER_DTYPES:
            raise InputError(source=name, value=value, expected="one of " + ", ".join(USER_DTYPES))
    flags = BenchFlags(hardware=as_hardware(hardware), model=model, base_model=base_model, tp=tp, pp=pp, dp=dp,
                       ep=ep, dtype=dtype, kv_dtype=kv_dtype, engine=engine, concurrency=concurrency,
                       request_rate_per_s=request_rate, input_len=input_len, output_len=output_len)
    paths = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    result = import_files(paths, flags, format=format)
    if output is not None:
        write_csv(result.rows, Path(output))
    return result
