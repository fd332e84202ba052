"""Communication time: TP all-reduce and PP send/receive, over the right link class.

Link classes: between the PEs of one RNGD card (`intra`), between devices of one machine
(`inter`: NVLink, PCIe peer-to-peer), between machines (`node`).
"""
from __future__ import annotations

import numpy as np

from cost_models.inputs import RowInputs
from cost_models.params import CostParams


def link_efficiency(params: CostParams, pcie: np.ndarray) -> np.ndarray:
    """Returns the achieved fraction of a link's bandwidth: PCIe peer-to-peer has its own."""
    return np.where(pcie, params.comm_bandwidth_efficiency_pcie, params.comm_bandwidth_efficiency)


def ring_allreduce_time_s(message_bytes: np.ndarray, n: np.ndarray, link_bytes_per_s: np.ndarray,
                          latency_s: np.ndarray, efficiency: np.ndarray) -> np.ndarray:
    """Returns the seconds of a ring all-reduce of `message_bytes` over `n` members (0 when n <= 1).

    Bandwidth term: each member sends and receives 2(n-1)/n of the message; latency term:
    2(n-1) sequential steps, one message latency each.
    """
    n = np.asarray(n, dtype=np.float64)
    steps = np.maximum(n - 1.0, 0.0)
    volume = 2.0 * steps / np.maximum(n, 1.0) * message_bytes
    return volume / (link_bytes_per_s * efficiency) + 2.0 * steps * latency_s


def tp_allreduce_time_s(rows: RowInputs, message_bytes: np.ndarray, params: CostParams) -> np.ndarray:
    """Returns the seconds of one TP all-reduce of `message_bytes` (hierarchical on multi-unit devices).

    Inside a device (RNGD PEs) a ring over the device's units; across devices a ring over
    the devices, on the machine's device link, or the inter-machine link when the TP group
    spans machines; plus the fixed cost of one collective call. On RNGD all PEs of a card share the card's one PCIe link, so the
    cross-card ring moves the whole message per card.
    """
    inside = np.minimum(rows.tp, rows.units_per_device)
    across = np.ceil(rows.tp / inside)
    within_node = across <= rows.devices_per_node
    bw = np.where(within_node, rows.inter_link_bytes_per_s, rows.node_link_bytes_per_s)
    lat = np.where(within_node, rows.inter_link_latency_s, rows.node_link_latency_s)
    intra = ring_allreduce_time_s(message_bytes, np.where(rows.units_per_device > 1, inside, 1.0),
                                  rows.intra_link_bytes_per_s, rows.intra_link_latency_s,
                                  link_efficiency(params, rows.intra_link_pcie))
    eff = link_efficiency(params, within_node & rows.inter_link_pcie)
    return intra + ring_allreduce_time_s(message_bytes, across, bw, lat, eff) + params.comm_call_overhead_s


def pp_transfer_time_s(rows: RowInputs, message_bytes: np.ndarray, params: CostParams) -> np.ndarray:
    """Returns the seconds to send one stage's activations to the next stage (one boundary).

    Stages sit on distinct devices: the machine's device link, or the inter-machine link
    when one replica's devices do not fit in one machine.
    """
    devices_per_replica = rows.pp * np.ceil(rows.tp / rows.units_per_device)
    within_node = devices_per_replica <= rows.devices_per_node
    bw = np.where(within_node, rows.inter_link_bytes_per_s, rows.node_link_bytes_per_s)
    lat = np.where(within_node, rows.inter_link_latency_s, rows.node_link_latency_s)
    eff = link_efficiency(params, within_node & rows.inter_link_pcie)
    return message_bytes / (bw * eff) + lat + params.comm_call_overhead_s
