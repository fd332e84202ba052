"""HardwareSpec: one accelerator's memory, compute and links, loaded from a YAML file.

Loading (and validation) is `autotune.specs.hardware_loader.load_hardware`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class LinkSpec:
    """A link class: bandwidth per device and direction, and the one-message latency."""

    name: str
    bandwidth_bytes_per_s: float
    latency_s: float

    def to_dict(self) -> dict[str, Any]:
        """Returns the link as a JSON-ready mapping."""
        return {"name": self.name, "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s, "latency_s": self.latency_s}


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
    power_w: float | None
    """Board power (TDP) of one device; None where the vendor publishes none (TPU v5e)."""
    default_space: str
    """Name of the search space used when the user names none."""
    sources: Mapping[str, str]
    """Field name -> where its value comes from."""
    device_name: str = "device"
    """What one device is called in messages: 'card' (RNGD), 'GPU', 'chip'."""
    unit_name: str = "device"
    """What one compute unit is called in messages: 'PE' (RNGD), else the device name."""

    def to_dict(self) -> dict[str, Any]:
        """Returns every figure with its unit in the key, and its source, as a JSON-ready mapping."""
        link = lambda spec: None if spec is None else spec.to_dict()  # noqa: E731
        return {
            "name": self.name,
            "description": self.description,
            "device_name": self.device_name,
            "unit_name": self.unit_name,
            "memory_capacity_bytes": self.memory_capacity_bytes,
            "memory_bandwidth_bytes_per_s": self.memory_bandwidth_bytes_per_s,
            "peak_tflops": dict(sorted(self.peak_tflops.items())),
            "compute_units_per_device": self.compute_units_per_device,
            "intra_device_link": link(self.intra_device_link),
            "inter_device_link": link(self.inter_device_link),
            "inter_node_link": link(self.inter_node_link),
            "devices_per_node": self.devices_per_node,
            "power_w": self.power_w,
            "default_space": self.default_space,
            "sources": dict(sorted(self.sources.items())),
        }


def counted(n: int, noun: str) -> str:
    """Returns '1 GPU', '2 GPUs', '3 replicas': a count with its noun (a device's `HardwareSpec.device_name`)."""
    return f"{n} {noun}" + ("" if n == 1 else "s")
