"""RNGD device strings for a plan: aligned PE ranges, pipeline stages on distinct cards.

The runtime's mesh algorithm (`furiosa_llm/device.py::get_device_mesh`, 2024.2.1 to 2026.3.0;
reference section 2, "Common mesh algorithm"): PEs are fused in aligned chunks of min(8, TP)
(a range starts at a multiple of its size: `npu:0:4-7`, never `npu:0:2-5`); a TP group is
consecutive fused chunks; pipeline stages sit on strictly increasing card indices; the mesh is
DP x PP x TP.

Placement chosen here, in the order that algorithm walks sorted PEs, so that the flat `--devices`
list forms this same mesh:
- TP >= 8: a TP group is TP/8 whole cards; replica r, stage s takes the cards starting at
  (r x PP + s) x TP/8.
- TP < 8: a card holds g = 8/TP groups; replicas come in blocks of g, each block on PP cards;
  replica r uses slot r mod g (PEs slot x TP ... slot x TP + TP - 1) on block r div g's cards,
  stage s on the block's card s.
A block (the cards one set of replicas spans) never straddles two machines of 8 cards.
"""
from __future__ import annotations

from dataclasses import dataclass

from autotune.outputs.emit.furiosa_releases import CARDS_PER_MACHINE, PES_PER_CARD
from autotune.errors import InputError
from autotune.parallel_plan import ParallelPlan


@dataclass(frozen=True, kw_only=True)
class MachineMesh:
    """The replicas one machine serves: mesh[replica][stage] = device strings of one TP group."""

    machine: int
    mesh: tuple[tuple[tuple[str, ...], ...], ...]

    @property
    def data_parallel_size(self) -> int:
        return len(self.mesh)

    @property
    def cards(self) -> tuple[int, ...]:
        """Returns the card indices (within this machine) the replicas use, sorted."""
        return tuple(sorted({_card_of(d) for replica in self.mesh for stage in replica for d in stage}))

    def device_strings(self) -> list[str]:
        """Returns the devices sorted by card then first PE: the flat `--devices` list."""
        flat = [d for replica in self.mesh for stage in replica for d in stage]
        return sorted(flat, key=_sort_key)

    def device_mesh(self) -> str:
        """Returns the 3-D mesh string: `||` between replicas, `|` between stages, `,` within a TP group."""
        return "||".join("|".join(",".join(group) for group in replica) for replica in self.mesh)


def pe_range(card: int, first_pe: int, size: int) -> str:
    """Returns one aligned device string: `npu:C:P` (one PE) or `npu:C:A-B` (fused PEs A..B)."""
    if size not in (1, 2, 4, 8) or first_pe % size != 0 or first_pe + size > PES_PER_CARD:
        raise ValueError(f"unaligned PE range start {first_pe} size {size}")  # placement bug, not input
    if size == 1:
        return f"npu:{card}:{first_pe}"
    return f"npu:{card}:{first_pe}-{first_pe + size - 1}"


def block_cards(plan: ParallelPlan) -> int:
    """Returns the cards one placement block spans (TP >= 8: one replica; TP < 8: PP cards)."""
    tp, pp = plan.tensor_parallel_size, plan.pipeline_parallel_size
    return pp * (tp // PES_PER_CARD) if tp >= PES_PER_CARD else pp


def replicas_per_block(plan: ParallelPlan) -> int:
    """Returns the replicas one block holds (8/TP side by side when TP < 8, else 1)."""
    tp = plan.tensor_parallel_size
    return 1 if tp >= PES_PER_CARD else PES_PER_CARD // tp


def check_placeable(plan: ParallelPlan, *, source: str = "plan") -> None:
    """Raises InputError when the plan's TP cannot form aligned PE groups or a replica exceeds a machine."""
    tp = plan.tensor_parallel_size
    if not (tp in (1, 2, 4) or (tp >= PES_PER_CARD and tp % PES_PER_CARD == 0)):
        raise InputError(source=source, field="tensor_parallel_size", value=tp,
                         expected="1, 2, 4 or a multiple of 8 PEs (PE groups are fused in aligned chunks)")
    for name in ("pipeline_parallel_size", "data_parallel_size"):
        value = getattr(plan, name)
        if not isinstance(value, int) or value < 1:
            raise InputError(source=source, field=name, value=value, expected="an integer >= 1")
    if block_cards(plan) > CARDS_PER_MACHINE:
        raise InputError(source=source, field="tensor_parallel_size x pipeline_parallel_size",
                         value=f"{tp} PEs x {plan.pipeline_parallel_size}",
                         expected=f"one replica on at most {CARDS_PER_MACHINE} cards of one machine "
                                  f"(Furiosa LLM runs a replica within one machine)")


def cards_needed(plan: ParallelPlan) -> int:
    """Returns the RNGD cards this placement occupies over all machines."""
    check_placeable(plan)
    blocks = -(-plan.data_parallel_size // replicas_per_block(plan))
    return blocks * block_cards(plan)


def machine_meshes(plan: ParallelPlan) -> list[MachineMesh]:
    """Returns the mesh each machine serves, card indices local to that machine."""
    check_placeable(plan)
    tp, pp, dp = plan.tensor_parallel_size, plan.pipeline_parallel_size, plan.data_parallel_size
    per_block = replicas_per_block(plan)
    cards_per_block = block_cards(plan)
    blocks_per_machine = CARDS_PER_MACHINE // cards_per_block
    chunk = min(PES_PER_CARD, tp)
    machines: dict[int, list[tuple[tuple[str, ...], ...]]] = {}
    for replica in range(dp):
        block, slot = divmod(replica, per_block)
        machine, local_block = divmod(block, blocks_per_machine)
        first_card = local_block * cards_per_block
        stages = []
        for stage in range(pp):
            if tp >= PES_PER_CARD:
                cards_per_group = tp // PES_PER_CARD
                start = first_card + stage * cards_per_group
                group = tuple(pe_range(card, 0, chunk) for card in range(start, start + cards_per_group))
            else:
                group = (pe_range(first_card + stage, slot * tp, chunk),)
            stages.append(group)
        machines.setdefault(machine, []).append(tuple(stages))
    return [MachineMesh(machine=m, mesh=tuple(machines[m])) for m in sorted(machines)]


def device_strings(plan: ParallelPlan) -> list[str]:
    """Returns the `--devices` list of a plan that fits one machine (sorted by card, then PE)."""
    return _single_machine(plan).device_strings()


def device_mesh(plan: ParallelPlan) -> str:
    """Returns the `--device-mesh` string (`||` replicas, `|` stages, `,` TP group) of a one-machine plan."""
    return _single_machine(plan).device_mesh()


def _single_machine(plan: ParallelPlan) -> MachineMesh:
    meshes = machine_meshes(plan)
    if len(meshes) != 1:
        raise InputError(source="plan", field="data_parallel_size", value=plan.data_parallel_size,
                         expected=f"replicas that fit one machine of {CARDS_PER_MACHINE} cards "
                                  f"(this plan needs {len(meshes)} machines; use machine_meshes)")
    return meshes[0]


def _card_of(device: str) -> int:
    return int(device.split(":")[1])


def _sort_key(device: str) -> tuple[int, int]:
    _, card, pes = device.split(":")
    return int(card), int(pes.split("-")[0])
