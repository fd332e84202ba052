"""Human-readable tables for recommend, pareto, sweep and enumerate (aligned, at most 100 columns).

Each report states the solver status, the assumptions (model, hardware, fleet, space, dtypes,
lengths, batch, SLOs) and, where it helps, the limit that binds.
"""
from __future__ import annotations

from collections.abc import Sequence

from autotune.results import (Assumptions, EnumerateResult, ParetoResult, Recommendation, RecommendResult,
                              SweepResult)
from autotune.specs.hardware import counted
from cost_models.params import Calibration

WIDTH = 100
GB = 1e9

_STATUS_WORDS = {
    "OPTIMAL": "proven optimal",
    "FEASIBLE": "best found within the time limit, not proven optimal",
    "INFEASIBLE": "no configuration satisfies every limit",
    "UNKNOWN": "the time limit ran out before any configuration was found",
}
#: The line under the header of a solve that returned nothing because the time ran out (status UNKNOWN).
NO_ANSWER_IN_TIME = ("the time limit ran out before the solver found a configuration; allow more with "
                     "--time-limit")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 0,
           text_last: bool = False) -> list[str]:
    """Returns aligned lines: the first `left` columns (and the last, if `text_last`) left-aligned, the others right.

    A column whose header repeats an earlier one (devices and units on a GPU, where each
    device is one unit) is shown once.
    """
    keep = [i for i, h in enumerate(headers) if h not in headers[:i]]
    headers = [headers[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]

    def line(cells: Sequence[str]) -> str:
        last = len(widths) - 1 if text_last else -1
        parts = [c.ljust(w) if i < left or i == last else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        text = "  ".join(parts).rstrip()
        if text_last and len(text) > WIDTH:  # free text last (a violation): shortened, and marked as such
            return text[:WIDTH - 3] + "..."
        return text  # never cut a column of figures: a lost column would be a silent wrong answer

    return [line(headers)] + [line(r) for r in rows]


def _num(value: float, digits: int = 1) -> str:
    if value >= 1e5:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def assumptions_line(a: Assumptions) -> str:
    """Returns the one-line statement of what the numbers assume."""
    slo = lambda v: "none" if v is None else f"{v:g} ms"  # noqa: E731
    return (f"assumptions: {a.model} on {a.cards} {a.hardware} {a.device_name}{'s' if a.cards != 1 else ''}, "
            f"space {a.space}; weights {a.dtype}, KV {a.kv_dtype}; {a.input_len} in + {a.output_len} out "
            f"tokens; batch {a.batch}; TTFT SLO {slo(a.ttft_ms)}, TPOT SLO {slo(a.tpot_ms)}")


def calibration_lines(a: Assumptions) -> list[str]:
    """Returns the warning that the efficiencies were fitted on other hardware, wrapped; empty when fitted."""
    if a.calibration is None or a.calibration.hardware_fitted:
        return []
    return _wrap(f"calibration: {a.calibration.note}", indent="")


def load_lines(a: Assumptions) -> list[str]:
    """Returns the traffic a result was simulated under, in words (none for a static result)."""
    if a.load is None:
        return []
    load = a.load
    return _wrap(f"under load: {load['traffic']}; lengths {load['lengths']}; SLOs bound p{load['slo_percentile']}; "
                 f"engine {load['engine']} {load['engine_release']}; {load['requests_per_simulation']} requests per "
                 f"simulated replica, seed {load['seed']}; {counted(load['layouts_simulated'], 'layout')} and "
                 f"{counted(load['simulations'], 'setting')} simulated", indent="")


def assumption_lines(a: Assumptions) -> list[str]:
    """Returns the assumptions line and, for hardware the fit has not seen, the calibration warning."""
    return _wrap(assumptions_line(a), indent="") + load_lines(a) + calibration_lines(a)


def _wrap(text: str, indent: str = "  ") -> list[str]:
    words = text.split()
    lines, current = [], indent
    for word in words:
        if len(current) + len(word) + 1 > WIDTH and current.strip():
            lines.append(current.rstrip())
            current = indent + "  "
        current += word + " "
    if current.strip():
        lines.append(current.rstrip())
    return lines


def _hang(head: str, text: str) -> list[str]:
    """Returns `head` followed by `text`, wrapped at 100 columns under the text's first column."""
    indent = " " * len(head)
    lines, current = [], head
    for word in text.split():
        if len(current) + len(word) > WIDTH and current.strip() and current != head:
            lines.append(current.rstrip())
            current = indent
        current += word + " "
    lines.append(current.rstrip())
    return lines


#: Headers of the mixture-of-experts degrees, shown after DP when some answer has one above 1.
MOE_HEADERS = ("EP", "ADP")


def has_moe_degrees(recs: Sequence[Recommendation]) -> bool:
    """Returns whether some answer splits experts or attention (EP or attention DP above 1)."""
    return any(r.plan.ep != 1 or r.plan.adp != 1 for r in recs)


def attention_dp_lines(result: RecommendResult) -> list[str]:
    """Returns the caveat on how an answer with attention DP was priced (docs/cost-model.md, known gaps), or none."""
    if not any(r.plan is not None and r.plan.adp > 1 for r in result.recommendations):
        return []
    if result.assumptions.load is not None:
        text = ("attention DP is simulated with each step's sequences and prompts dealt evenly over the ranks; "
                "on published fixed-length offline runs that pricing over-predicts DeepSeek-R1 and Qwen3 "
                "throughput by 21-31% (docs/cost-model.md, known gaps)")
    else:
        from cost_models.inputs import ADP_BALANCE_RATIO_ROUND_ROBIN
        text = ("attention DP is priced with the busiest rank at the round-robin balance ratio TensorRT-LLM "
                f"measured on variable lengths ({ADP_BALANCE_RATIO_ROUND_ROBIN:.2%}); the simulator (--rate) deals "
                "the ranks evenly (docs/cost-model.md, known gaps)")
    return _wrap("note: " + text, indent="")


def _config_headers(a: Assumptions, moe: bool = False) -> list[str]:
    unit = "PEs" if a.unit_name == "PE" else f"{a.unit_name}s"
    dev = a.device_name
    degrees = ["TP", "PP", "DP"] + (list(MOE_HEADERS) if moe else [])
    if a.load is not None:  # simulated: the batch is the engine's max_num_seqs, latencies a percentile
        p = f"p{a.load['slo_percentile']}"
        return degrees + ["seqs/tok", f"{dev}s", unit, f"GB/{dev}", f"TTFT {p} ms", f"TPOT {p} ms",
                          f"e2e {p} s", "tok/s", f"tok/s/{dev}"]
    return degrees + ["batch", f"{dev}s", unit, f"GB/{dev}", "TTFT ms", "TPOT ms", "e2e s", "tok/s",
                      f"tok/s/{dev}"]


def _config_cells(r: Recommendation, moe: bool = False) -> list[str]:
    p, m = r.plan, r.metrics
    # Under load the engine's limits are decisions: max_num_seqs / token budget per step ("seqs/tok").
    limits = f"{p.batch_size}/{m['serving']['max_num_batched_tokens']}" if "serving" in m else str(p.batch_size)
    return [str(p.tensor_parallel_size), str(p.pipeline_parallel_size), str(p.data_parallel_size)] \
        + ([str(p.ep), str(p.adp)] if moe else []) + [limits] + [
            str(p.cards_used), str(p.pes_used),
            f"{m['memory_per_device_bytes']['total'] / GB:.1f}", _num(m["ttft_ms"]), _num(m["tpot_ms"], 2),
            _num(m["e2e_latency_ms"] / 1e3, 2), _num(m["throughput_tokens_per_s"]),
            _num(m["throughput_tokens_per_s_per_device"])]


#: Memory terms of the breakdown table: (metrics key, column header).
_MEMORY_TERMS = (("weights", "weights"), ("kv_cache", "KV cache"), ("activations", "activations"),
                 ("reserved", "reserved"), ("total", "total"), ("capacity", "capacity"))


def memory_table(recs: Sequence[Recommendation], a: Assumptions) -> list[str]:
    """Returns the memory breakdown of the most loaded device of each answer, in GB."""
    headers = ["#", f"memory per {a.device_name}, GB:"] + [label for _, label in _MEMORY_TERMS]
    rows = [[str(i + 1), ""] + [f"{r.metrics['memory_per_device_bytes'][key] / GB:.1f}" for key, _ in _MEMORY_TERMS]
            for i, r in enumerate(recs)]
    return _table(headers, rows, left=2)


def short_config(r: Recommendation) -> str:
    """Returns 'TP 8, PP 4, DP 1, batch 16 on 4 devices: 78.9 tok/s, TPOT 202.74 ms'."""
    p, m = r.plan, r.metrics
    moe = f"EP {p.ep}, attention DP {p.adp}, " if p.ep != 1 or p.adp != 1 else ""
    return (f"TP {p.tensor_parallel_size}, PP {p.pipeline_parallel_size}, DP {p.data_parallel_size}, {moe}"
            f"batch {p.batch_size} on {p.cards_used}: {_num(m['throughput_tokens_per_s'])} tok/s, "
            f"TPOT {_num(m['tpot_ms'], 2)} ms, TTFT {_num(m['ttft_ms'])} ms")


def recommend_report(result: RecommendResult) -> str:
    """Returns the recommend report: status, assumptions, the table, binding limits or reasons."""
    a = result.assumptions
    lines = _wrap(f"objective: {result.objective}; status: {result.status} "
                  f"({_STATUS_WORDS.get(result.status, result.status)}; {_counts_words(result)})", indent="")
    lines += assumption_lines(a)
    lines.append("")
    if result.recommendations:
        moe = has_moe_degrees(result.recommendations)
        rows = [[str(i + 1)] + _config_cells(r, moe) for i, r in enumerate(result.recommendations)]
        lines += _table(["#"] + _config_headers(a, moe), rows)
        lines.append("")
        lines += memory_table(result.recommendations, a)
        binding = [f"#{i + 1}: {', '.join(r.binding)}" for i, r in enumerate(result.recommendations) if r.binding]
        if binding:
            lines.append("")
            lines += _wrap("binding limit (what stops a larger batch on the same layout): " + "; ".join(binding),
                           indent="")
        lines += attention_dp_lines(result)
        return "\n".join(lines)
    if result.status != "INFEASIBLE":
        lines.append(NO_ANSWER_IN_TIME)
        return "\n".join(lines)
    lines += why_lines(result.reasons)
    if result.alternatives:
        lines.append("nearest alternatives (each solved):")
        for alt in result.alternatives:
            lines += _wrap(f"- {alt.change}: {short_config(alt.recommendation)}")
    else:
        lines.append("no nearby alternative fits either")
    return "\n".join(lines)


def _counts_words(result: RecommendResult) -> str:
    """Returns the candidate counts in words that agree with the status."""
    total, feasible = result.candidates_total, result.candidates_feasible
    load = result.assumptions.load
    if load is not None:
        disagg = load.get("disaggregated")
        if disagg is not None:
            agg_total = total - disagg["deployments_verified"]
            agg_feasible = feasible - disagg["deployments_feasible"]
            verified, good, solves = (disagg[k] for k in ("deployments_verified", "deployments_feasible",
                                                            "cp_sat_solves"))
            whole = (f"1 deployment simulated whole ({'feasible' if good else 'infeasible'})" if verified == 1
                     else f"{verified} deployments simulated whole, {good} of them feasible")
            words = f"disaggregated: {whole}, after {solves} CP-SAT solve{'' if solves == 1 else 's'}"
            if load.get("mode") == "disagg":
                return words
            return f"aggregated: {_layout_words(load, agg_total, agg_feasible)}; {words}"
        return _layout_words(load, total, feasible)
    if result.recommendations or result.status == "INFEASIBLE":
        return f"{feasible} of {total} candidates feasible"
    # UNKNOWN: rows that meet every limit on their own exist, but the solver chose none in time; calling
    # them "feasible" beside "no configuration found" reads as a contradiction.
    return f"none chosen among {total} candidates, of which {feasible} meet every limit on their own"


def _layout_words(load: dict, total: int, feasible: int) -> str:
    """Returns what the search under load did with the layouts: simulated, feasible, infeasible, and cut (runs
    that proved a layout could not beat the answer before its best setting was known)."""
    simulated = load["layouts_simulated"]
    infeasible = load.get("layouts_infeasible")
    if infeasible is None:  # a result without the split (a plan, a sweep point)
        return (f"{simulated} of {total} layouts simulated (the rest cannot beat the answer), "
                f"{feasible} of them feasible")
    cut = simulated - feasible - infeasible
    words = f"{simulated} of {total} layouts simulated: {feasible} feasible, {infeasible} infeasible"
    if cut:
        words += f", {cut} cut once they could not beat the answer"
    if simulated < total:
        words += f"; the other {total - simulated} cannot beat it"
    return words


def why_lines(reasons: Sequence[str]) -> list[str]:
    """Returns the 'why nothing fits' block."""
    lines = ["why nothing fits (limits that together exclude every candidate):"]
    for text in reasons:
        lines += _wrap(f"- {text}")
    return lines


def pareto_report(result: ParetoResult) -> str:
    """Returns the Pareto front table, lowest TPOT first."""
    a = result.assumptions
    lines = _wrap(f"pareto front: {result.axes[0]} vs {result.axes[1]}; status: {result.status} "
                  f"({_STATUS_WORDS.get(result.status, result.status)}); {len(result.points)} "
                  f"point{'' if len(result.points) == 1 else 's'}", indent="")
    lines += assumption_lines(a)
    lines.append("")
    if not result.points:
        if result.status != "INFEASIBLE":
            lines.append(NO_ANSWER_IN_TIME)
        else:
            lines += why_lines(result.reasons)
        return "\n".join(lines)
    moe = has_moe_degrees(result.points)
    rows = [[str(i + 1)] + _config_cells(p, moe) + [_num(1e3 / p.metrics["tpot_ms"])]
            for i, p in enumerate(result.points)]
    lines += _table(["#"] + _config_headers(a, moe) + ["tok/s/user"], rows)
    return "\n".join(lines)


def sweep_report(result: SweepResult, *, device_name: str = "device", calibration: Calibration | None = None) -> str:
    """Returns the sweep as one block per series (model, dtype, prompt length), one line per device count.

    `device_name` ("card" on RNGD, "GPU") words the count columns; `calibration` (the sweep's hardware)
    adds the warning line when the efficiencies were not fitted on that hardware.
    """
    dev = device_name
    count = len(result.points)
    lines = [f"sweep: objective {result.objective}; {count} point{'s' if count != 1 else ''}"]
    if calibration is not None and not calibration.hardware_fitted:
        lines += _wrap(f"calibration: {calibration.note}", indent="")
    ttft, tpot, batch = "TTFT ms", "TPOT ms", "batch"
    if result.load is not None:
        load = result.load
        traffic = (f"Poisson arrivals at {load['rate']:g} requests/s" if load["rate"] is not None
                   else f"closed loop, {load['concurrency']} clients")
        lines += _wrap(f"under load: {traffic}; SLOs bound p{load['slo_percentile']}; {load['requests']} requests "
                       f"per simulated replica, seed {load['seed']}", indent="")
        p = f"p{load['slo_percentile']}"
        ttft, tpot, batch = f"TTFT {p} ms", f"TPOT {p} ms", "max seqs"
    lines.append("")
    moe = has_moe_degrees([p.recommendation for p in result.points if p.recommendation is not None])
    headers = [f"{dev}s", "status", "TP", "PP", "DP"] + (list(MOE_HEADERS) if moe else []) + [
        batch, "used", ttft, tpot, "tok/s", f"tok/s/{dev}"]
    rows: list[list[str]] = []
    for p in result.points:
        if p.recommendation is not None:
            plan, m = p.recommendation.plan, p.recommendation.metrics
            rows.append([str(p.cards), p.status, str(plan.tensor_parallel_size), str(plan.pipeline_parallel_size),
                         str(plan.data_parallel_size)] + ([str(plan.ep), str(plan.adp)] if moe else []) + [
                         str(plan.batch_size), str(plan.cards_used),
                         _num(m["ttft_ms"]), _num(m["tpot_ms"], 2), _num(m["throughput_tokens_per_s"]),
                         _num(m["throughput_tokens_per_s_per_device"])])
        else:
            rows.append([str(p.cards), p.status] + [""] * (len(headers) - 2))
    table = _table(headers, rows, left=0)
    series = None
    for p, line in zip(result.points, table[1:]):
        key = (p.model, p.dtype, p.input_len)
        if key != series:
            if series is not None:
                lines.append("")
            lines.append(f"{p.model}, weights {p.dtype}, {p.input_len} prompt tokens:")
            lines.append("  " + table[0])
            series = key
        if p.recommendation is None:
            # The status column ends the aligned part; the first reason follows, wrapped.
            reason = p.reasons[0] if p.reasons else "no configuration fits"
            lines += _hang("  " + line.rstrip() + "  ", reason)
        else:
            lines.append("  " + line)
    return "\n".join(line.rstrip() for line in lines)


def enumerate_report(result: EnumerateResult, *, limit: int | None = None) -> str:
    """Returns every candidate (or the first `limit`): feasible first, then the first violation of the others."""
    a = result.assumptions
    shown = result.candidates if not limit else result.candidates[:limit]
    total = max(result.total_count, len(result.candidates))
    lines = [f"enumerate: {total} candidates, {result.feasible_count} feasible; order: "
             f"objective {result.objective}" + (f"; showing {len(shown)}" if len(shown) < total else "")]
    lines += assumption_lines(a)
    lines.append("")
    rows = []
    moe = has_moe_degrees(shown)
    k = len(MOE_HEADERS) if moe else 0  # the columns after DP move right by the MoE degrees
    for i, c in enumerate(shown):
        cells = _config_cells(c, moe)
        first = "ok" if c.metrics["feasible"] else c.metrics["violations"][0]
        rows.append([str(i + 1)] + cells[:7 + k] + [cells[8 + k], cells[10 + k], first])
    headers = ["#"] + _config_headers(a, moe)[:7 + k] + ["TPOT ms", "tok/s", "violation"]
    lines += _table(headers, rows, text_last=True)
    return "\n".join(lines)


def one_line_reason(reasons: Sequence[str], fallback: str) -> str:
    """Returns the first reason, or `fallback`, as one line for stderr."""
    return (reasons[0] if reasons else fallback).replace("\n", " ")
