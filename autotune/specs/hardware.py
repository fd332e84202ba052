"""HardwareSpec: one accelerator's memory, compute and links, loaded from a YAML file.

Loading (and validation) is `autotune.specs.hardware_loader.load_hardware`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class LinkSpec:
    """A link class: bandwidth per device and direction, and the one-message latency."""

    name: str
    bandwidth_bytes_per_s: float
    latency_s: float


@dataclass(frozen=True, kw_only=True)
class HardwareSpec:
    """One accelerator device (a GPU, or an RNGD card of 8 PEs), its links and its server."""

    name: str
    description: str
    memory_capacity_bytes: float
    """Memory of one device; on RNGD shared by the card's PEs."""
    memory_bandwidth_bytes_per_s: float
    """Memory bandwidth of one device; on RNGD shared by the card's PEs."""
    peak_tflops: Mapping[str, float]
    """Dense peak TFLOPS (TOPS for integer formats) of one device, by compute dtype."""
    compute_units_per_device: int
    """Units a TP degree counts: 8 PEs per RNGD card, 1 per GPU."""
    intra_device_link: LinkSpec | None
    """Between the compute units of one device (RNGD PEs); None for a GPU."""
    inter_device_link: LinkSpec
    """Between devices of one machine (NVLink, PCIe peer-to-peer, ...)."""
    inter_node_link: LinkSpec
    """Between machines."""
    devices_per_node: int
    power_w: float
    default_space: str
    """Name of the search space used when the user names none."""
    sources: Mapping[str, str]
    """Field name -> where its value comes from."""
