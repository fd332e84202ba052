"""Communication time: TP all-reduce and PP send/receive, over the right link class.

Link classes: between the PEs of one RNGD card (`intra`), between devices of one machine
(`inter`: NVLink, PCIe peer-to-peer), between machines (`node`).

Across devices, an all-reduce is timed as NCCL's own tuner times it (NVIDIA/nccl
src/graph/tuning.cc, ncclTopoTuneModel / ncclTopoGetAlgoTime): a ring run with the faster of
two protocols. LL (low latency) costs a small base latency and the link's per-step latency but
reaches a quarter of the bus bandwidth; Simple reaches the full achieved bandwidth but costs a
larger base latency and per-step latency. Small messages (batch-1 decode) therefore go LL and
large ones (prefill) Simple, as in NCCL. LL128 is left out: the cited tuner enables it by
default only on Volta/Ampere NVLink.
"""
from __future__ import annotations

import numpy as np

from cost_models.collectives_fit import pairwise_allreduce_s
from cost_models.inputs import RowInputs
from cost_models.params import CostParams

#: Ring base latency per call of the LL and Simple protocols, seconds (tuning.cc baseLat[Ring]:
#: LL 3.6 us, Simple 8.4 us).
LL_BASE_LATENCY_S = 3.6e-6
SIMPLE_BASE_LATENCY_S = 8.4e-6
#: Simple's per-step latency over LL's, by link class (tuning.cc hwLat[class][Ring]: NVLink
#: 3.4 / 0.47 us, PCIe 5.7 / 1.0 us, network 9.6 / 2.7 us). The hardware presets give each
#: link's LL per-step latency; Simple's is that times the ratio.
SIMPLE_STEP_LATENCY_RATIO = {"nvlink": 3.4 / 0.47, "pcie": 5.7 / 1.0, "network": 9.6 / 2.7}
#: Share of the achieved bus bandwidth LL reaches in an all-reduce (tuning.cc: busBw x 1/4).
LL_BANDWIDTH_SHARE = 0.25


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


def nccl_allreduce_time_s(message_bytes: np.ndarray, n: np.ndarray, link_bytes_per_s: np.ndarray,
                          ll_latency_s: np.ndarray, efficiency: np.ndarray, link_class: str) -> np.ndarray:
    """Returns the seconds of a ring all-reduce with NCCL's faster protocol, LL or Simple (0 when n <= 1).

    LL: base latency + 2(n-1) LL steps + the ring volume at a quarter of the achieved
    bandwidth. Simple: its base latency + 2(n-1) Simple steps (the LL step latency times
    NCCL's ratio for the link class) + the ring volume at the achieved bandwidth.
    """
    n = np.asarray(n, dtype=np.float64)
    ll = ring_allreduce_time_s(message_bytes, n, link_bytes_per_s, ll_latency_s,
                               efficiency * LL_BANDWIDTH_SHARE) + LL_BASE_LATENCY_S
    simple = ring_allreduce_time_s(message_bytes, n, link_bytes_per_s,
                                   ll_latency_s * SIMPLE_STEP_LATENCY_RATIO[link_class],
                                   efficiency) + SIMPLE_BASE_LATENCY_S
    return np.where(n > 1.0, np.minimum(ll, simple), 0.0)


def tp_allreduce_time_s(rows: RowInputs, message_bytes: np.ndarray, params: CostParams,
                        units: np.ndarray | None = None) -> np.ndarray:
    """Returns the seconds of one TP all-reduce of `message_bytes` (hierarchical on multi-unit devices).

    `units`: the members (None: the row's tp), e.g. tp / adp for an attention DP group's all-reduce.

    Inside a device, a hardware with a fitted shared-memory exchange (RNGD PEs,
    `collectives_fit`) pays its fixed time plus n(n - 1) pair times plus the bytes; others a ring
    over the device's units. Across devices a ring over the devices, on the machine's device
    link, or the inter-machine link when the TP group spans machines, timed with NCCL's protocol
    choice (`nccl_allreduce_time_s`), plus the fixed cost of one collective call (which the fitted
    intra-device time already holds when the group stays inside one device). On RNGD all PEs of a
    card share the card's one PCIe link, so the cross-card ring moves the whole message per card.
    """
    tp = rows.tp if units is None else units
    inside = np.minimum(tp, rows.units_per_device)
    across = np.ceil(tp / inside)
    within_node = across <= rows.devices_per_node
    bw = np.where(within_node, rows.inter_link_bytes_per_s, rows.node_link_bytes_per_s)
    lat = np.where(within_node, rows.inter_link_latency_s, rows.node_link_latency_s)
    members = np.where(rows.units_per_device > 1, inside, 1.0)
    intra_efficiency = link_efficiency(params, rows.intra_link_pcie)
    ring = ring_allreduce_time_s(message_bytes, members, rows.intra_link_bytes_per_s, rows.intra_link_latency_s,
                                 intra_efficiency)
    pairwise = rows.intra_allreduce_pair_s > 0
    shared = pairwise_allreduce_s(members, message_bytes, fixed_s=rows.intra_allreduce_fixed_s,
                                  pair_s=rows.intra_allreduce_pair_s, link_bytes_per_s=rows.intra_link_bytes_per_s,
                                  efficiency=intra_efficiency)
    intra = np.where(pairwise, shared, ring)
    pcie = within_node & rows.inter_link_pcie
    eff = link_efficiency(params, pcie)
    # GPUs run NCCL (AMD's RCCL keeps NCCL's tuning model); the link class sets Simple's step latency.
    nvlink_s, pcie_s, network_s = (nccl_allreduce_time_s(message_bytes, across, bw, lat, eff, name)
                                   for name in ("nvlink", "pcie", "network"))
    across_s = np.select([~within_node, pcie], [network_s, pcie_s], nvlink_s)
    call_s = np.where(pairwise & (across <= 1.0), 0.0, params.comm_call_overhead_s)
    return intra + across_s + call_s


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

