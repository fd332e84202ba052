"""The all-reduce among the PEs of one RNGD card, fitted on its measured times.

The PEs of a card exchange partial sums through the card's shared memory, under the compiler's
control, not over a ring of links. Measured per decoder layer (two all-reduces of an 8 KB
activation, `data/rngd_collectives.csv`) the time grows as 5.65 : 23.99 : 115.08 us for 2, 4 and
8 PEs, about as n(n - 1), the number of ordered PE pairs (2 : 12 : 56), and far faster than a
ring's 2(n - 1) steps (2 : 6 : 14). So one all-reduce among n PEs is priced as

    fixed + n (n - 1) x pair + the ring's bandwidth term,

with `fixed` and `pair` fitted here (least squares on log error, both >= 0) and shipped in
`params/default.yaml` (`intra_allreduce_fixed_s`, `intra_allreduce_pair_s`, key `rngd`). The
bandwidth term (the intra-card link of the hardware file) keeps large prefill messages priced by
their bytes; at 8 KB it is a fraction of a microsecond.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_PATH = Path(__file__).resolve().parent / "data" / "rngd_collectives.csv"


@dataclass(frozen=True, kw_only=True)
class CollectivePoint:
    """One measured intra-card all-reduce: PEs, message, all-reduces per layer, seconds per layer."""

    pes: int
    message_bytes: float
    allreduces_per_layer: int
    time_per_layer_s: float


def load_points(path: Path = DATA_PATH) -> list[CollectivePoint]:
    """Returns the measured points of `path` (the shipped RNGD file by default)."""
    with path.open(newline="") as handle:
        return [CollectivePoint(pes=int(row["tensor_parallel_pes"]), message_bytes=float(row["message_bytes"]),
                                allreduces_per_layer=int(row["allreduces_per_layer"]),
                                time_per_layer_s=float(row["time_per_layer_us"]) * 1e-6)
                for row in csv.DictReader(handle)]


def pairwise_allreduce_s(pes: np.ndarray, message_bytes: np.ndarray, *, fixed_s: float, pair_s: float,
                         link_bytes_per_s: float, efficiency: float) -> np.ndarray:
    """Returns the seconds of one all-reduce among `pes` PEs of a card (0 for one PE)."""
    n = np.asarray(pes, dtype=np.float64)
    volume = 2.0 * np.maximum(n - 1.0, 0.0) / np.maximum(n, 1.0) * np.asarray(message_bytes, dtype=np.float64)
    time = fixed_s + n * (n - 1.0) * pair_s + volume / (link_bytes_per_s * efficiency)
    return np.where(n > 1.0, time, 0.0)


def fit_pairwise(points: list[CollectivePoint], *, link_bytes_per_s: float, efficiency: float) -> tuple[float, float]:
    """Returns (fixed_s, pair_s) minimising the squared log error over `points`, both >= 0."""
    from scipy.optimize import least_squares  # imported here: every run imports this module, few fit

    pes = np.array([p.pes for p in points], dtype=np.float64)
    message = np.array([p.message_bytes for p in points])
    per_call = np.array([p.time_per_layer_s / p.allreduces_per_layer for p in points])

    def residuals(x: np.ndarray) -> np.ndarray:
        model = pairwise_allreduce_s(pes, message, fixed_s=x[0] * 1e-6, pair_s=x[1] * 1e-6,
                                     link_bytes_per_s=link_bytes_per_s, efficiency=efficiency)
        return np.log(model / per_call)

    fit = least_squares(residuals, x0=np.array([1.0, 1.0]), bounds=([0.0, 1e-6], [1e3, 1e3]))
    return float(fit.x[0]) * 1e-6, float(fit.x[1]) * 1e-6
