"""One configuration, costed and checked: what `autotune estimate` prints.

The layout is priced by the same `build_problem` the solver uses, restricted to that one layout,
so an estimate and a recommendation of the same configuration agree to the digit. With batch
'auto' the batch is the largest that meets every limit that depends on it (memory, the runtime's
decode buckets, the SLOs); when not even batch 1 does, the figures are those of batch 1 with the
limits it breaks.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from autotune.solver.search import EVERY, Problem, build_problem
from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from autotune.specs.space import SearchSpace
from autotune.specs.workload import AUTO, Workload
from cost_models.params import CostParams


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """The costs and limits of one configuration; `to_dict` is the JSON `estimate` prints."""

    tp: int
    pp: int
    dp: int
    cards: int
    space: str
    batch_size: int
    """Sequences per replica the figures are for."""
    max_batch: int
    """Largest batch per replica that fits memory (0: not one sequence)."""
    largest_feasible_batch: int
    """Largest batch per replica that meets every limit depending on the batch (0: none)."""
    feasible: bool
    violations: tuple[str, ...]
    memory_per_device_bytes: dict[str, float]
    ttft_ms: float
    tpot_ms: float
    e2e_latency_ms: float
    throughput_tokens_per_s: float
    """Output tokens/s over all replicas (0 when the configuration does not fit memory)."""
    throughput_tokens_per_s_per_device: float
    requests_per_s: float
    devices_used: int
    ep: int = 1
    """Expert-parallel degree (MoE models)."""
    adp: int = 1
    """Attention data-parallel degree (MoE models)."""
    moe: bool = False
    """Whether the model is a mixture of experts (its JSON then states ep and adp)."""

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
            "largest_feasible_batch": self.largest_feasible_batch,
            "requests_per_s": round(self.requests_per_s, 5),
            "devices_used": self.devices_used,
            "cards": self.cards,
            "tp": self.tp,
            "pp": self.pp,
            "dp": self.dp,
            **({"ep": self.ep, "adp": self.adp} if self.moe or self.ep != 1 or self.adp != 1 else {}),
            "space": self.space,
        }


def estimate(model: ModelSpec, hardware: HardwareSpec, workload: Workload, *, tp: int, pp: int, dp: int,
             space: SearchSpace, cards: int | None = None, params: CostParams | None = None, ep: int = 1,
             adp: int = 1) -> Estimate:
    """Returns the costs of one (tp, pp, dp, ep, adp) layout at the workload's batch on `cards` devices, and every
    limit it breaks.

    `cards` defaults to the fewest devices that hold the layout. The workload's batch is a
    number, or 'auto' for the largest batch that meets every limit.
    """
    from autotune.specs.candidates import devices_used

    fewest = int(devices_used(hardware, np.array([tp]), np.array([pp]), np.array([dp]))[0])
    cards = fewest if cards is None else cards

    def problem_for(work: Workload) -> Problem:
        return build_problem(model=model, hardware=hardware, space=space, workload=work, cards=cards,
                             params=params, batches=EVERY, layout=(tp, pp, dp, ep, adp))

    # Batch 'auto' lists every batch from 1 to the largest meeting the batch's limits, and one more.
    ranged = problem_for(dataclasses.replace(workload, batch=AUTO))
    batches = ranged.candidates.batch
    top = max(int(batches.max()) - 1, 1)
    top_row = int(np.flatnonzero(batches == top)[0])
    largest = top if ranged.feasible[top_row] else 0
    problem, row = (ranged, top_row) if workload.batch == AUTO else (problem_for(workload), 0)
    metrics = problem.metrics(row)
    fits = bool(problem.table.fits_memory[row])
    # A layout that does not fit serves nothing: no throughput is claimed for it.
    throughput = metrics["throughput_tokens_per_s"] if fits else 0.0
    per_device = metrics["throughput_tokens_per_s_per_device"] if fits else 0.0
    return Estimate(
        tp=tp, pp=pp, dp=dp, cards=cards, space=space.name, batch_size=metrics["batch_size"],
        max_batch=metrics["max_batch"], largest_feasible_batch=largest,
        feasible=metrics["feasible"], violations=tuple(metrics["violations"]),
        memory_per_device_bytes=metrics["memory_per_device_bytes"], ttft_ms=metrics["ttft_ms"],
        tpot_ms=metrics["tpot_ms"], e2e_latency_ms=metrics["e2e_latency_ms"], throughput_tokens_per_s=throughput,
        throughput_tokens_per_s_per_device=per_device, requests_per_s=throughput / workload.output_len,
        devices_used=int(problem.table.devices_used[row]), ep=ep, adp=adp, moe=model.is_moe)
