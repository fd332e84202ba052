"""Candidates: the discrete parallel layouts a search considers, as parallel numpy arrays.

Row i is one configuration: `tp[i]` tensor-parallel units (PEs on RNGD, GPUs elsewhere),
`pp[i]` pipeline stages, `dp[i]` data-parallel replicas, `batch[i]` sequences per replica,
run on a fleet of `cards` devices. The cost model evaluates all rows at once; the
formulation selects among them.

Counting, once for everything (`units` are PEs on RNGD, GPUs elsewhere):
- units used  = TP x PP x DP.
- devices one replica spans = PP x ceil(TP / units_per_device): each pipeline stage holds a
  TP group, and on RNGD the stages of a replica sit on distinct cards.
- devices used by the fleet layout, `devices_used`:
  - TP >= units_per_device: every TP group takes ceil(TP / units_per_device) whole devices,
    so DP x PP x ceil(TP / units_per_device).
  - TP <  units_per_device (RNGD TP 1, 2, 4): aligned groups of TP PEs pack
    g = units_per_device // TP to a card, and every card holds groups of one pipeline
    stage only, so PP x ceil(DP / g). This is what the runtime's mesh algorithm forms from
    a flat device list (PEs fused in aligned chunks, a replica's stages on strictly
    increasing card indices: furiosa-llm.md section 2, `device.py::get_device_mesh`), and
    it is the layout under which replicas on one card share one copy of a stage's weights.
    A denser packing that mixes stages on a card (e.g. TP 4, PP 2, DP 3 on 3 cards) exists
    on paper but the runtime does not build it, so it is not counted as feasible.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autotune.errors import InputError
from autotune.specs.hardware import HardwareSpec


@dataclass(frozen=True, kw_only=True)
class Candidates:
    """Parallel int64 arrays, one row per configuration, all of the same length.

    `tp` is the units of one pipeline stage of one replica. For a mixture-of-experts model those units
    may split the two halves of a layer differently: the MoE layers over `ep` expert-parallel groups
    (each holding whole experts; MoE tensor parallel = tp / ep) and attention over `adp` attention
    data-parallel groups (each serving its own requests with its own KV cache; attention tensor
    parallel = tp / adp). Both divide `tp`; both are 1 (the default) for plain tensor parallel.
    """

    tp: np.ndarray
    pp: np.ndarray
    dp: np.ndarray
    batch: np.ndarray
    cards: int
    """Devices in the fleet (RNGD cards or GPUs); a row may use fewer."""
    ep: np.ndarray | None = None
    """Expert-parallel groups per stage (None: all 1)."""
    adp: np.ndarray | None = None
    """Attention data-parallel groups per stage (None: all 1)."""

    def __post_init__(self) -> None:
        lengths = {len(self.tp), len(self.pp), len(self.dp), len(self.batch)}
        for name in ("ep", "adp"):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, np.ones(len(self.tp), dtype=np.int64))
            else:
                lengths.add(len(value))
        if len(lengths) != 1:
            raise ValueError(f"candidate arrays differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.tp)

    def take(self, index: np.ndarray, *, batch: np.ndarray | None = None) -> "Candidates":
        """Returns the rows at `index` (all degrees kept), with `batch` instead of theirs when given."""
        return Candidates(tp=self.tp[index], pp=self.pp[index], dp=self.dp[index],
                          batch=self.batch[index] if batch is None else np.asarray(batch, dtype=np.int64),
                          cards=self.cards, ep=self.ep[index], adp=self.adp[index])

    @classmethod
    def single(cls, *, tp: int, pp: int, dp: int, batch: int, cards: int) -> "Candidates":
        """Returns a one-row table."""
        one = lambda v: np.array([v], dtype=np.int64)  # noqa: E731
        return cls(tp=one(tp), pp=one(pp), dp=one(dp), batch=one(batch), cards=cards)


def devices_per_stage(hardware: HardwareSpec, tp: np.ndarray) -> np.ndarray:
    """Returns the devices one TP group spans: ceil(TP / units_per_device) (int64 array)."""
    tp = np.asarray(tp, dtype=np.int64)
    upd = hardware.compute_units_per_device
    return -(-tp // upd)


def devices_per_replica(hardware: HardwareSpec, tp: np.ndarray, pp: np.ndarray) -> np.ndarray:
    """Returns the devices one replica spans: PP x ceil(TP / units_per_device) (int64 array)."""
    return np.asarray(pp, dtype=np.int64) * devices_per_stage(hardware, tp)


def devices_used(hardware: HardwareSpec, tp: np.ndarray, pp: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """Returns the devices (RNGD cards, GPUs) each row occupies; see the module docstring."""
    tp, pp, dp = layout_arrays(tp, pp, dp)
    upd = hardware.compute_units_per_device
    whole = dp * pp * devices_per_stage(hardware, tp)
    groups_per_device = np.maximum(upd // np.maximum(tp, 1), 1)
    packed = pp * -(-dp // groups_per_device)
    return np.where(tp >= upd, whole, packed)


def layout_arrays(tp, pp, dp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = tuple(np.atleast_1d(np.asarray(a, dtype=np.int64)) for a in (tp, pp, dp))
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"tp, pp, dp arrays differ in length: {sorted(lengths)}")
    for name, values in zip(("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size"), arrays):
        if values.size and values.min() < 1:
            raise InputError(source="parallel degrees", field=name, value=int(values.min()),
                             expected="an integer >= 1")
    return arrays
