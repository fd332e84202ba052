"""One configuration, costed and checked: what `autotune estimate` prints.

Feasibility combines the search space's rules for the fleet (`autotune.rules`), memory on
every device, and the SLOs the workload states. Every broken limit is one sentence.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from autotune.candidates import Candidates
from autotune.rules import check_rules, devices_used, violations_for
from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from autotune.specs.space import SearchSpace
from autotune.specs.workload import AUTO, Workload
from cost_models.evaluate import evaluate, max_batch
from cost_models.params import CostParams, load_params

MAX = "max"
GB = 1e9


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """The costs and limits of one configuration; `to_dict` is the JSON `estimate` prints."""

    tp: int
    pp: int
    dp: int
    cards: int
    space: str
    batch_size: int
    max_batch: int
    feasible: bool
    violations: tuple[str, ...]
    memory_per_device_bytes: dict[str, float]
    ttft_ms: float
    tpot_ms: float
    e2e_latency_ms: float
    throughput_tokens_per_s: float
    throughput_tokens_per_s_per_device: float
    requests_per_s: float
    devices_used: int

    def to_dict(self) -> dict[str, Any]:
        """Returns the JSON-ready figures (milliseconds, bytes, tokens/s)."""
        return {
            "feasible": self.feasible,
            "violations": list(self.violations),
            "memory_per_device_bytes": {k: round(v) for k, v in self.memory_per_device_bytes.items()},
            "ttft_ms": round(self.ttft_ms, 4),
            "tpot_ms": round(self.tpot_ms, 4),
            "e2e_latency_ms": round(self.e2e_latency_ms, 4),
            "throughput_tokens_per_s": round(self.throughput_tokens_per_s, 3),
            "throughput_tokens_per_s_per_device": round(self.throughput_tokens_per_s_per_device, 3),
            "batch_size": self.batch_size,
            "max_batch": self.max_batch,
            "requests_per_s": round(self.requests_per_s, 5),
            "devices_used": self.devices_used,
            "cards": self.cards,
            "tp": self.tp,
            "pp": self.pp,
            "dp": self.dp,
            "space": self.space,
        }


def fewest_cards(hardware: HardwareSpec, tp: int, pp: int, dp: int) -> int:
    """Returns the fewest devices that hold the layout (the rules' device count)."""
    return int(devices_used(hardware, np.array([tp]), np.array([pp]), np.array([dp]))[0])


def estimate(model: ModelSpec, hardware: HardwareSpec, workload: Workload, *, tp: int, pp: int, dp: int,
             space: SearchSpace, cards: int | None = None, batch: int | str = MAX,
             params: CostParams | None = None) -> Estimate:
    """Returns the costs of one (tp, pp, dp, batch) layout on `cards` devices and every limit it breaks.

    `batch` is sequences per replica, or 'max' for the largest that fits memory. Times are
    computed for at least one sequence even when it does not fit (to show how far off it
    is); throughput is 0 for a layout that does not fit memory.
    """
    params = load_params() if params is None else params
    cards = fewest_cards(hardware, tp, pp, dp) if cards is None else cards
    probe = Candidates.single(tp=tp, pp=pp, dp=dp, batch=1, cards=cards)
    workload = replace(workload, batch=AUTO)
    largest = int(max_batch(model, hardware, workload, probe, params)[0])
    chosen = largest if batch in (MAX, AUTO) else int(batch)
    table = evaluate(model, hardware, workload, replace(probe, batch=np.array([max(chosen, 1)])), params)
    rules = check_rules(space, hardware, model, cards, np.array([tp]), np.array([pp]), np.array([dp]))
    violations = list(violations_for(rules, 0))
    total, capacity = float(table.total_bytes[0]), float(table.capacity_bytes)
    if largest < 1:
        violations.append(f"memory: not one sequence of {workload.context_len} tokens fits; weights alone take "
                          f"{table.weights_bytes[0] / GB:.1f} GB of the {capacity / GB:.1f} GB per device")
    elif chosen > largest:
        violations.append(f"memory: batch {chosen} per replica needs {total / GB:.1f} GB per device, "
                          f"{capacity / GB:.1f} GB available (at most batch {largest} fits)")
    ttft_ms, tpot_ms = float(table.ttft_s[0]) * 1e3, float(table.tpot_s[0]) * 1e3
    if workload.ttft_ms is not None and ttft_ms > workload.ttft_ms:
        violations.append(f"TTFT {ttft_ms:.1f} ms exceeds the SLO of {workload.ttft_ms:g} ms")
    if workload.tpot_ms is not None and tpot_ms > workload.tpot_ms:
        violations.append(f"TPOT {tpot_ms:.2f} ms exceeds the SLO of {workload.tpot_ms:g} ms")
    # A layout that does not fit serves nothing: no throughput is claimed for it.
    fits = 1 <= chosen <= largest
    throughput = float(table.throughput_tokens_per_s[0]) if fits else 0.0
    per_device = float(table.throughput_tokens_per_s_per_device[0]) if fits else 0.0
    return Estimate(
        tp=tp, pp=pp, dp=dp, cards=cards, space=space.name, batch_size=max(chosen, 0), max_batch=largest,
        feasible=not violations, violations=tuple(violations),
        memory_per_device_bytes={
            "weights": float(table.weights_bytes[0]), "kv_cache": float(table.kv_cache_bytes[0]),
            "activations": float(table.activations_bytes[0]), "reserved": float(table.reserved_bytes[0]),
            "total": total, "capacity": capacity},
        ttft_ms=ttft_ms, tpot_ms=tpot_ms, e2e_latency_ms=float(table.e2e_latency_s[0]) * 1e3,
        throughput_tokens_per_s=throughput,
        throughput_tokens_per_s_per_device=per_device,
        requests_per_s=throughput / workload.output_len, devices_used=int(table.devices_used[0]))
