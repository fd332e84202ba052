"""CostTable: what the cost model returns for every candidate row, as parallel arrays.

This is the contract between the cost model (which fills it) and the solver and outputs
(which read it). Units are in the names; memory figures are per device (an RNGD card, or
one GPU) and for the most loaded device of the configuration.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class CostTable:
    """Per-candidate estimates; every array has one entry per candidate row."""

    weights_bytes: np.ndarray
    kv_cache_bytes: np.ndarray
    activations_bytes: np.ndarray
    reserved_bytes: np.ndarray
    total_bytes: np.ndarray
    capacity_bytes: float
    """Memory of one device."""
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_latency_s: np.ndarray
    throughput_tokens_per_s: np.ndarray
    """Output tokens per second over all replicas."""
    devices_used: np.ndarray
    """Devices (cards or GPUs) the configuration occupies."""
    max_batch: np.ndarray
    """Largest batch per replica that fits in memory (0: not even one sequence)."""
    fits_memory: np.ndarray
    """Boolean: every device's total fits its capacity."""

    @property
    def throughput_tokens_per_s_per_device(self) -> np.ndarray:
        return self.throughput_tokens_per_s / np.maximum(self.devices_used, 1)
