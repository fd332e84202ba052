"""Why nothing fits: the limits that bind, with numbers, and the nearest requests that do fit.

The binding limits come from CP-SAT assumptions (`solve.infeasible_core`): a minimal set of
limits that together exclude every candidate. Each is then put in words with the numbers of
the candidate that comes closest (the one that breaks nothing else). Alternatives are found by
solving changed requests for real: more cards, a smaller dtype, a shorter prompt, a smaller
batch, a looser SLO.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from autotune.results import Alternative, Recommendation
from autotune.solver.search import GB, MEMORY, REQUESTED_PREFIX, SLO_TPOT, SLO_TTFT, Problem, device_word
from autotune.solver.solve import SolverSettings, best_rows, infeasible_core
from autotune.specs.dtypes import BYTES_PER_ELEMENT
from autotune.specs.workload import AUTO, Workload

#: (workload, cards) -> the problem for that request, with everything else unchanged.
Rebuild = Callable[[Workload, int], Problem]

#: Shortest prompt an alternative proposes, in tokens.
MIN_INPUT_LEN = 128


def binding_limits(problem: Problem, *, settings: SolverSettings | None = None) -> tuple[str, ...]:
    """Returns the ids of a minimal set of limits that exclude every row (empty when a row fits)."""
    return infeasible_core(problem.violation_masks(), settings=settings)


def _rows_within_other_limits(problem: Problem, limit_id: str) -> np.ndarray:
    """Returns the rows that break no limit other than `limit_id` (they may break it)."""
    others = np.zeros(len(problem.candidates), dtype=bool)
    for other_id, mask in problem.violation_masks().items():
        if other_id != limit_id:
            others |= mask
    return np.flatnonzero(~others)


def _closest_row(problem: Problem, limit_id: str) -> int | None:
    """Returns the row within the other limits that needs the least memory; None when there is none."""
    rows = _rows_within_other_limits(problem, limit_id)
    if len(rows) == 0:
        return None
    return int(rows[np.argmin(problem.table.total_bytes[rows])])


def reasons(problem: Problem, limit_ids: Sequence[str]) -> tuple[str, ...]:
    """Returns the sentences for `limit_ids`; pinned degrees are explained by what the pinned layout breaks."""
    if any(limit.limit_id.startswith(REQUESTED_PREFIX) for limit in problem.limits):
        # The user fixed the degrees: what that layout breaks is the whole answer.
        return pinned_layout_reasons(problem)
    return tuple(dict.fromkeys(reason(problem, i) for i in limit_ids))


def pinned_layout_reasons(problem: Problem) -> tuple[str, ...]:
    """Returns what the layout the user pinned (--tp/--pp/--dp/--ep/--adp) breaks, at its smallest batch."""
    masks = problem.violation_masks()
    pinned = np.zeros(len(problem.candidates), dtype=bool)
    for limit_id, mask in masks.items():
        if limit_id.startswith(REQUESTED_PREFIX):
            pinned |= mask
    rows = np.flatnonzero(~pinned)
    if len(rows) == 0:
        return ("no candidate has the requested degrees (the fleet has too few units for them)",)
    others = [limit for limit in problem.limits if not limit.limit_id.startswith(REQUESTED_PREFIX)]
    broken_count = np.sum([limit.violated[rows] for limit in others], axis=0) if others else np.zeros(len(rows))
    # The pinned row that breaks the fewest limits, at its smallest batch, reads best.
    row = int(rows[np.lexsort((problem.candidates.batch[rows], broken_count))][0])
    p = problem.plan(row)
    moe = (f", EP {p.ep}, attention DP {p.adp}" if p.expert_parallel_size is not None
           or p.attention_data_parallel_size is not None else "")
    head = (f"the requested layout TP {p.tensor_parallel_size}, PP {p.pipeline_parallel_size}, "
            f"DP {p.data_parallel_size}{moe} (batch {p.batch_size}) breaks: ")
    return tuple(head + limit.message(row) for limit in others if limit.violated[row])


def reason(problem: Problem, limit_id: str) -> str:
    """Returns one sentence saying how `limit_id` binds, with numbers."""
    row = _closest_row(problem, limit_id)
    table = problem.table
    workload = problem.workload
    if limit_id == MEMORY:
        if problem.model is not None and workload is not None:
            cards = problem.candidates.cards
            weights = problem.model.weight_bytes(workload.dtype)
            fleet = cards * table.capacity_bytes
            name = problem.hardware.name if problem.hardware is not None else "device"
            word = device_word(problem.hardware)
            if weights > fleet:
                held = f"{cards} {name} {word} holds" if cards == 1 else f"{cards} {name} {word}s hold"
                text = f"weights need {weights / GB:.1f} GB in {workload.dtype}; {held} {fleet / GB:.1f} GB"
                return text + _replica_ceiling(problem, weights)
        message = problem.limits_by_id(MEMORY)
        if row is None:
            # Every row that breaks memory also breaks another limit: show the smallest of them.
            over = np.flatnonzero(problem.violation_masks()[MEMORY])
            smallest = int(over[np.argmin(table.total_bytes[over])])
            return "even the smallest layout that breaks memory needs too much: " + message(smallest)
        return "no layout within the other limits fits in memory; the smallest: " + message(row)
    if limit_id in (SLO_TTFT, SLO_TPOT):
        ttft = limit_id == SLO_TTFT
        values_ms = np.asarray(table.ttft_s if ttft else table.tpot_s, dtype=float) * 1e3
        bound = workload.ttft_ms if ttft else workload.tpot_ms
        label = "TTFT" if ttft else "TPOT"
        pool = _rows_within_other_limits(problem, limit_id)
        scope = "within the other limits "
        if len(pool) == 0:
            pool, scope = np.arange(len(values_ms)), ""
        best = float(values_ms[pool].min())
        return f"{label} SLO {bound:g} ms: the fastest layout {scope}reaches {best:.2f} ms"
    message = problem.limits_by_id(limit_id)
    description = problem.limit_description(limit_id)
    if row is None:
        return f"rule {limit_id}: {description}: no candidate satisfies it"
    return f"rule {limit_id}: {message(row)}"


def _replica_ceiling(problem: Problem, weights_bytes: float) -> str:
    """Returns a clause saying no fleet helps when one replica's largest span cannot hold the weights."""
    space, hardware = problem.space, problem.hardware
    if space is None or hardware is None:
        return ""
    spans = [n for n in (space.replica_max_devices,
                         hardware.devices_per_node if space.replica_within_node else None) if n]
    if not spans:
        return ""
    span = min(spans)
    held_bytes = span * problem.table.capacity_bytes
    if weights_bytes <= held_bytes:
        return ""
    word = device_word(hardware)
    return (f"; and one replica may span at most {span} {word}s under {space.name} "
            f"({held_bytes / GB:.1f} GB), so no fleet size holds it in this format")


def _recommend_one(problem: Problem, objective: str, settings: SolverSettings) -> Recommendation | None:
    status, rows = best_rows(problem, objective, top=1, settings=settings)
    if not rows:
        return None
    return Recommendation(plan=problem.plan(rows[0]), metrics=problem.metrics(rows[0]))


def fewest_cards(problem: Problem, rebuild: Rebuild, objective: str, settings: SolverSettings, *,
                 max_cards: int) -> Alternative | None:
    """Returns the alternative with the fewest extra cards (up to `max_cards`), or None."""
    workload = problem.workload
    cards = problem.candidates.cards
    start = cards + 1
    if problem.model is not None and problem.hardware is not None:
        # The fleet must at least hold one copy of the weights.
        weights = problem.model.weight_bytes(workload.dtype)
        start = max(start, math.ceil(weights / problem.table.capacity_bytes))
    word = device_word(problem.hardware)
    # Card counts tried: the next 16 one by one, then doubling; the first that fits is then
    # narrowed by bisection, which assumes fit is monotone in the card count (true where the space
    # allows idle units; nearly so where it requires every unit used).
    tried_without: int = cards
    schedule = list(range(start, min(start + 16, max_cards + 1)))
    more = schedule[-1] if schedule else start
    while more * 2 <= max_cards:
        more *= 2
        schedule.append(more)
    for count in schedule:
        found = _recommend_one(rebuild(workload, count), objective, settings)
        if found is None:
            tried_without = count
            continue
        low, high = tried_without, count
        while high - low > 1:
            middle = (low + high) // 2
            attempt = _recommend_one(rebuild(workload, middle), objective, settings)
            if attempt is None:
                low = middle
            else:
                high, found = middle, attempt
        return Alternative(kind="cards", change=f"use {high} {word}s instead of {cards}", value=high,
                           recommendation=found)
    return None


def smaller_dtype(problem: Problem, rebuild: Rebuild, objective: str, settings: SolverSettings, *,
                  dtypes: Sequence[str], kv_dtypes: Sequence[str]) -> Alternative | None:
    """Returns the alternative with the largest dtype smaller than the current one that fits, or None.

    The KV cache follows the new format when the space serves it that way and the user did not fix
    it; otherwise it keeps its current (served) format.
    """
    workload = problem.workload
    current = BYTES_PER_ELEMENT[workload.dtype]
    # Largest first; among equal sizes, formats the device has a peak figure for (native) first.
    native = set(problem.hardware.peak_tflops) if problem.hardware is not None else set()
    smaller = sorted((d for d in dtypes if BYTES_PER_ELEMENT.get(d, current) < current),
                     key=lambda d: (-BYTES_PER_ELEMENT[d], d not in native, d))
    for dtype in smaller:
        kv = workload.kv_dtype
        if kv is None and dtype not in kv_dtypes:
            kv = workload.cache_dtype
        changed = dataclasses.replace(workload, dtype=dtype, kv_dtype=kv)
        found = _recommend_one(rebuild(changed, problem.candidates.cards), objective, settings)
        if found is not None:
            return Alternative(kind="dtype", change=f"use {dtype} weights instead of {workload.dtype}",
                               value=dtype, recommendation=found)
    return None


def shorter_input(problem: Problem, rebuild: Rebuild, objective: str,
                  settings: SolverSettings) -> Alternative | None:
    """Returns the alternative with the longest prompt (a multiple of 128 tokens below the current) that fits."""
    workload = problem.workload
    cards = problem.candidates.cards

    def solve(length: int) -> Recommendation | None:
        return _recommend_one(rebuild(dataclasses.replace(workload, input_len=length), cards), objective, settings)

    too_long = workload.input_len
    length = too_long // 2
    found = None
    while length >= MIN_INPUT_LEN:
        found = solve(length)
        if found is not None:
            break
        too_long = length
        length //= 2
    if found is None:
        return None
    fits = length
    # Bisect between the length that fits and the one that does not, to a 128-token step.
    while too_long - fits > MIN_INPUT_LEN:
        middle = (fits + too_long) // 2 // MIN_INPUT_LEN * MIN_INPUT_LEN
        if middle <= fits:
            break
        attempt = solve(middle)
        if attempt is not None:
            fits, found = middle, attempt
        else:
            too_long = middle
    return Alternative(kind="input_len", change=f"prompts of at most {fits} tokens instead of {workload.input_len}",
                       value=fits, recommendation=found)


def smaller_batch(problem: Problem, rebuild: Rebuild, objective: str,
                  settings: SolverSettings) -> Alternative | None:
    """Returns the alternative with the largest batch (halving) that fits, when the batch was fixed."""
    workload = problem.workload
    if workload.batch == AUTO or int(workload.batch) <= 1:
        return None
    batch = int(workload.batch) // 2
    while batch >= 1:
        changed = dataclasses.replace(workload, batch=batch)
        found = _recommend_one(rebuild(changed, problem.candidates.cards), objective, settings)
        if found is not None:
            return Alternative(kind="batch", change=f"batch {batch} per replica instead of {workload.batch}",
                               value=batch, recommendation=found)
        batch //= 2
    return None


def looser_slo(problem: Problem, rebuild: Rebuild, objective: str, settings: SolverSettings,
               which: str) -> Alternative | None:
    """Returns the alternative with the tightest SLO (TTFT or TPOT) that any layout meets, others unchanged."""
    workload = problem.workload
    field = "ttft_ms" if which == SLO_TTFT else "tpot_ms"
    if getattr(workload, field) is None:
        return None
    cards = problem.candidates.cards
    unbounded = rebuild(dataclasses.replace(workload, **{field: None}), cards)
    fastest = _recommend_one(unbounded, "ttft" if which == SLO_TTFT else "latency", settings)
    if fastest is None:
        return None
    # Round up to 0.01 ms so the proposed SLO is met by the layout that reaches it.
    needed = math.ceil(fastest.metrics[field] * 100.0 + 1e-9) / 100.0
    changed = dataclasses.replace(workload, **{field: needed})
    found = _recommend_one(rebuild(changed, cards), objective, settings)
    if found is None:
        return None
    label = "TTFT" if which == SLO_TTFT else "TPOT"
    return Alternative(kind=field, change=f"{label} SLO {needed:g} ms instead of {getattr(workload, field):g} ms",
                       value=needed, recommendation=found)


def alternatives(problem: Problem, rebuild: Rebuild, objective: str, *, dtypes: Sequence[str],
                 kv_dtypes: Sequence[str], settings: SolverSettings | None = None, max_cards: int = 1024) -> tuple[Alternative, ...]:
    """Returns the nearest feasible requests: fewest extra cards, smaller dtype, shorter prompt,
    smaller batch, looser TTFT and TPOT SLOs (those that exist), each solved for real."""
    settings = settings or SolverSettings()
    found = [
        fewest_cards(problem, rebuild, objective, settings, max_cards=max_cards),
        smaller_dtype(problem, rebuild, objective, settings, dtypes=dtypes, kv_dtypes=kv_dtypes),
        shorter_input(problem, rebuild, objective, settings),
        smaller_batch(problem, rebuild, objective, settings),
        looser_slo(problem, rebuild, objective, settings, SLO_TTFT),
        looser_slo(problem, rebuild, objective, settings, SLO_TPOT),
    ]
    return tuple(a for a in found if a is not None)
