"""The report lines of a result under a rate with `--mode`: which mode wins and by how much, and each
disaggregated answer's pools and KV transfer."""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from autotune.outputs.emit.disagg import pool_words
from autotune.results import Recommendation, RecommendResult
from autotune.specs.hardware import counted


def pool_line(n: int, rec: Recommendation, word: str) -> str:
    """Returns '#1 disaggregated: prefill 1 x (TP 8 PP 1) on 8 GPUs + decode ...; KV transfer p90 1.4 ms'."""
    m = rec.metrics
    parts = []
    for role in ("prefill", "decode"):
        pool = m[role]
        parts.append(f"{role} {pool_words(pool)} on {pool['devices']} {word}{'' if pool['devices'] == 1 else 's'}")
    kv = m.get("kv_transfer_ms") or {}
    transfer = f"; KV transfer p90 {kv['p90']:.3g} ms" if kv.get("p90") is not None else ""
    return f"#{n} disaggregated: " + " + ".join(parts) + transfer + " (the table's TP/PP/DP are the decode pool's)"


def mode_lines(result: RecommendResult, *, rate: float | None) -> list[str]:
    """Returns the mode comparison line and the pool line of each disaggregated answer (none without --mode)."""
    if result.modes is None or rate is None:
        return []
    word = result.assumptions.device_name
    return [""] + wrap(comparison_line(dict(result.modes), rate=rate, word=word)) + disagg_pool_lines(
        result.recommendations, word)


def disagg_pool_lines(recs: Sequence[Recommendation], word: str) -> list[str]:
    """Returns the pool line of each disaggregated answer, wrapped."""
    return [part for i, r in enumerate(recs) if r.metrics.get("mode") == "disagg"
            for part in wrap(pool_line(i + 1, r, word))]


#: Widest line of the reports (as `report` wraps them).
WIDTH = 100


def wrap(text: str) -> list[str]:
    """Returns `text` wrapped to WIDTH columns, continuation lines indented."""
    return textwrap.wrap(text, width=WIDTH, subsequent_indent="  ")


def comparison_line(modes: dict[str, Any], *, rate: float, word: str) -> str:
    """Returns the report's one line on which mode wins and by how much."""
    a, d, winner = modes.get("agg"), modes.get("disagg"), modes.get("winner")
    if winner is None:
        return f"mode: neither aggregated nor disaggregated serving meets the SLOs at {rate:g} requests/s"
    names = {"agg": "aggregated", "disagg": "disaggregated"}
    w, o = (a, d) if winner == "agg" else (d, a)
    if o is not None and o["devices"] == w["devices"] and modes.get("ratio") == 1.0:
        other = "disagg" if winner == "agg" else "agg"
        why = ("aggregated kept (one pool)" if w["tpot_ms"] == o["tpot_ms"] else
               f"{names[winner]} kept for its lower TPOT ({w['tpot_ms']:.4g} vs {o['tpot_ms']:.4g} ms, "
               f"{names[other]})")
        return (f"mode: aggregated and disaggregated tie at {rate:g} requests/s within the same SLOs: "
                f"{w['value_per_device']:.4g} {w['value']} on {counted(w['devices'], word)} each; {why}")
    unit = w["value"]
    head = (f"mode: {names[winner]} wins at {rate:g} requests/s within the same SLOs: {w['value_per_device']:.4g} "
            f"{unit} on {counted(w['devices'], word)}")
    if o is None:
        return head + " (the other mode was not searched)"
    if o["devices"] is None:
        return head + f"; {names['disagg' if winner == 'agg' else 'agg']} serves it on none of the fleet ({o['status']})"
    return head + (f" vs {o['value_per_device']:.4g} on {counted(o['devices'], word)} {names['disagg' if winner == 'agg' else 'agg']}"
                   f" ({modes['ratio']:.3g}x)")
