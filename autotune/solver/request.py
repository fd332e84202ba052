"""A request resolved once: specs loaded and checked against the space, the fleet, pinned degrees."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from autotune.errors import InputError
from autotune.results import Assumptions
from autotune.solver.formulation import OBJECTIVES
from autotune.solver.search import BEST, Problem, build_problem
from autotune.specs.hardware import HardwareSpec
from autotune.specs.inputs import as_hardware, as_model, as_space, default_workload
from autotune.specs.model import ModelSpec
from autotune.specs.space import SearchSpace
from autotune.specs.workload import Workload

if TYPE_CHECKING:
    from cost_models.params import CostParams

#: Largest fleet an alternative ("use N cards") may propose.
MAX_ALTERNATIVE_CARDS = 256
#: Most compute units (PEs or GPUs) a fleet may have: the candidate table grows about as units x log(units)
#: (1.7 million rows, 1.2 GB and 7 s for 4096 GPUs), so larger fleets are refused rather than exhausting memory.
MAX_FLEET_UNITS = 4096


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
    ep: int | None = None
    """Pinned expert-parallel degree (None: searched)."""
    adp: int | None = None
    """Pinned attention data-parallel degree (None: searched)."""

    def problem(self, workload: Workload | None = None, cards: int | None = None, *, batches: str = BEST) -> Problem:
        """Returns the search problem, optionally with another workload or fleet (`batches`: see `build_problem`)."""
        return build_problem(model=self.model, hardware=self.hardware, space=self.space,
                             workload=workload or self.workload, cards=cards or self.cards, params=self.params,
                             batches=batches,
                             pins={"tp": self.tp, "pp": self.pp, "dp": self.dp, "ep": self.ep, "adp": self.adp})

    def assumptions(self) -> Assumptions:
        w = self.workload
        return Assumptions(model=self.model.name, hardware=self.hardware.name, space=self.space.name,
                           cards=self.cards, dtype=w.dtype, kv_dtype=w.cache_dtype, input_len=w.input_len,
                           output_len=w.output_len, batch=w.batch, ttft_ms=w.ttft_ms, tpot_ms=w.tpot_ms,
                           device_name=self.hardware.device_name, unit_name=self.hardware.unit_name)


def resolve(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
            cards: int | None = None, space: SearchSpace | str | None = None, tp: int | None = None, pp: int | None = None,
            dp: int | None = None, params: CostParams | None = None, release: str | None = None,
            ep: int | None = None, adp: int | None = None) -> Request:
    """Returns the resolved request: specs loaded, default fleet (one machine) and space (the one covering
    `release`, else the hardware's)."""
    from autotune.solver.rules import check_space_hardware

    model, hardware = as_model(model), as_hardware(hardware)
    space = as_space(space, hardware, release)
    check_space_hardware(space, hardware)
    workload = workload or default_workload(model, space)
    if cards is None:
        cards = hardware.devices_per_node
    most = MAX_FLEET_UNITS // hardware.compute_units_per_device
    if isinstance(cards, bool) or not isinstance(cards, (int, np.integer)) or not 1 <= cards <= most:
        raise InputError(source="--cards", value=cards,
                         expected=f"an integer in [1, {most}] ({hardware.name}: at most {MAX_FLEET_UNITS} "
                                  f"{hardware.unit_name}s in one search)")
    for name, value in (("--tp", tp), ("--pp", pp), ("--dp", dp), ("--ep", ep), ("--adp", adp)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InputError(source=name, value=value, expected="an integer >= 1")
    for label, dtype, allowed in (("--dtype", workload.dtype, space.dtypes),
                                  ("--kv-dtype", workload.cache_dtype, space.kv_dtypes)):
        if dtype not in allowed:
            raise InputError(source=label, value=dtype,
                             expected=f"a format {space.name} serves: " + ", ".join(allowed))
    return Request(model=model, hardware=hardware, space=space, workload=workload, cards=int(cards),
                   tp=tp, pp=pp, dp=dp, params=params, ep=ep, adp=adp)


def check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise InputError(source="--objective", value=objective, expected="one of " + ", ".join(OBJECTIVES))
