"""Sweeps: many requests (card counts x models x dtypes x prompt lengths), solved one by one, in processes or on Ray.

Each point is an independent `recommend` (top 1, reasons when nothing fits, no alternatives).
Points keep the order they were asked in, whatever order the workers finish in, so that the
output is the same with `--jobs 1`, `--jobs N` and `--ray` (`autotune.solver.fanout`).
"""
from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autotune.errors import InputError
from autotune.results import SweepPoint
from autotune.solver.answers import recommend_problem
from autotune.solver.fanout import fan_out
from autotune.solver.request import resolve
from autotune.solver.solve import SolverSettings
from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from autotune.specs.space import SearchSpace
from autotune.specs.workload import Workload

if TYPE_CHECKING:
    from cost_models.params import CostParams

#: Most points one sweep may ask for.
MAX_POINTS = 100_000


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepTask:
    """One point of a sweep: everything a worker process needs (all picklable)."""

    model: ModelSpec
    hardware: HardwareSpec
    space: SearchSpace
    workload: Workload
    cards: int
    objective: str
    time_limit_s: float | None
    params: CostParams | None
    load: Mapping[str, Any] | None = None
    """Under traffic: the traffic keywords of `under_load.resolve_under_load` (rate or concurrency, ...)."""


def parse_cards(text: str, *, source: str = "--cards") -> tuple[int, ...]:
    """Returns the card counts of '1..64', '1,2,4,8' or a mix ('1..4,8,16'), in the order given, deduplicated."""
    counts: list[int] = []
    expected = "card counts such as 8, 1..64 or 1,2,4,8 (integers >= 1)"
    for part in str(text).split(","):
        part = part.strip()
        if ".." in part:
            low_text, _, high_text = part.partition("..")
            low, high = _positive(low_text, source, expected), _positive(high_text, source, expected)
            if high < low:
                raise InputError(source=source, value=text, expected=expected + "; a range goes upward")
            if high - low >= MAX_POINTS:
                raise InputError(source=source, value=text, expected=expected + f"; at most {MAX_POINTS} points")
            counts.extend(range(low, high + 1))
        else:
            counts.append(_positive(part, source, expected))
    return tuple(dict.fromkeys(counts))


def _positive(text: str, source: str, expected: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise InputError(source=source, value=text, expected=expected) from None
    if value < 1:
        raise InputError(source=source, value=text, expected=expected)
    return value


def sweep_tasks(models: Sequence[ModelSpec], hardware: HardwareSpec, space: SearchSpace, workload: Workload, *,
                cards: Sequence[int], dtypes: Sequence[str] | None, input_lens: Sequence[int] | None,
                objective: str, time_limit_s: float | None, params: CostParams | None,
                load: Mapping[str, Any] | None = None) -> list[SweepTask]:
    """Returns the points in order: model, then dtype, then prompt length, then card count (innermost)."""
    dtype_list = list(dtypes) if dtypes else [workload.dtype]
    length_list = list(input_lens) if input_lens else [workload.input_len]
    total = len(models) * len(dtype_list) * len(length_list) * len(cards)
    if total > MAX_POINTS:
        raise InputError(source="sweep", value=total, expected=f"at most {MAX_POINTS} points")
    tasks = []
    for model in models:
        for dtype in dtype_list:
            # A swept dtype sets the KV cache format too, unless the user fixed it.
            kv_dtype = workload.kv_dtype if dtypes is None else None
            for length in length_list:
                point = dataclasses.replace(workload, dtype=dtype, kv_dtype=kv_dtype, input_len=length)
                tasks.extend(SweepTask(model=model, hardware=hardware, space=space, workload=point, cards=count,
                                       objective=objective, time_limit_s=time_limit_s, params=params, load=load)
                             for count in cards)
    return tasks


def run_tasks(tasks: Sequence[SweepTask], *, jobs: int = 1, ray_address: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> tuple[SweepPoint, ...]:
    """Returns the solved points in task order: serially, in `jobs` processes, or on Ray (`fanout.fan_out`)."""
    return tuple(fan_out(solve_sweep_point, tasks, jobs=jobs, ray_address=ray_address, progress=progress))


def stderr_progress(label: str) -> Callable[[int, int], None] | None:
    """Returns a progress-bar callback drawing on stderr, or None unless both stdout and stderr are terminals.

    Output that is piped or redirected gets no bar (a bar in a pager or a log is noise).
    """
    if not (sys.stderr.isatty() and sys.stdout.isatty()):
        return None
    return ProgressBar(label, sys.stderr)


class ProgressBar:
    """A one-line bar redrawn in place; erased when the last point is done."""

    WIDTH = 30

    def __init__(self, label: str, stream) -> None:
        self.label = label
        self.stream = stream

    def __call__(self, done: int, total: int) -> None:
        filled = self.WIDTH * done // max(total, 1)
        line = f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total}"
        self.stream.write("\r" + line)
        if done >= total:
            self.stream.write("\r" + " " * len(line) + "\r")
        self.stream.flush()


def solve_sweep_point(task: SweepTask) -> SweepPoint:
    """Returns the sweep point of one task (top-level, so that worker processes can run it)."""
    if task.load is not None:
        return _point_under_load(task)
    request = resolve(task.model, task.hardware, task.workload, cards=task.cards, space=task.space,
                      params=task.params)
    result = recommend_problem(request, request.problem(), objective=task.objective, top=1,
                                settings=SolverSettings(time_limit_s=task.time_limit_s), explain=True,
                                alternatives=False)
    best = result.recommendations[0] if result.recommendations else None
    return SweepPoint(cards=task.cards, model=task.model.name, dtype=task.workload.dtype,
                      input_len=task.workload.input_len, status=result.status, recommendation=best,
                      reasons=result.reasons)


def _point_under_load(task: SweepTask) -> SweepPoint:
    from autotune.solver import disagg_answers, load_answers, under_load

    keywords = {k: v for k, v in task.load.items() if k != "mode"}
    request, load = under_load.resolve_under_load(task.model, task.hardware, task.workload, cards=task.cards,
                                                  space=task.space, params=task.params, **keywords)
    if load.rate_per_s is not None:  # --mode: the best of the modes run (`disagg_answers`)
        mode = disagg_answers.resolve_mode(task.load.get("mode"), request, load, task.objective)
        result = disagg_answers.recommend_modes(request, load, task.objective, mode=mode, top=1,
                                                time_limit_s=task.time_limit_s)
    else:
        answer = under_load.search(request, load, task.objective, top=1, time_limit_s=task.time_limit_s)
        result = load_answers.answers(request, load, answer, task.objective)
    best = result.recommendations[0] if result.recommendations else None
    return SweepPoint(cards=task.cards, model=task.model.name, dtype=task.workload.dtype,
                      input_len=task.workload.input_len, status=result.status, recommendation=best,
                      reasons=result.reasons)
