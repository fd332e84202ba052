"""Candidates: the discrete parallel layouts a search considers, as parallel numpy arrays.

Row i is one configuration: `tp[i]` tensor-parallel units (PEs on RNGD, GPUs elsewhere),
`pp[i]` pipeline stages, `dp[i]` data-parallel replicas, `batch[i]` sequences per replica,
run on a fleet of `cards` devices. The cost model evaluates all rows at once; the
formulation selects among them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Candidates:
    """Parallel int64 arrays, one row per configuration, all of the same length."""

    tp: np.ndarray
    pp: np.ndarray
    dp: np.ndarray
    batch: np.ndarray
    cards: int
    """Devices in the fleet (RNGD cards or GPUs); a row may use fewer."""

    def __post_init__(self) -> None:
        lengths = {len(self.tp), len(self.pp), len(self.dp), len(self.batch)}
        if len(lengths) != 1:
            raise ValueError(f"candidate arrays differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.tp)

    @classmethod
    def single(cls, *, tp: int, pp: int, dp: int, batch: int, cards: int) -> "Candidates":
        """Returns a one-row table."""
        one = lambda v: np.array([v], dtype=np.int64)  # noqa: E731
        return cls(tp=one(tp), pp=one(pp), dp=one(dp), batch=one(batch), cards=cards)
