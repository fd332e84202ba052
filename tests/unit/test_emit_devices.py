"""Device strings and meshes for RNGD plans, checked against the runtime's alignment and mesh rules.

Rules from ../shared/reference/furiosa-llm.md section 1 ("PE fusion": groups of 1, 2, 4, 8 PEs,
start % size == 0) and section 2 ("Common mesh algorithm": chunks of min(8, TP), PP stages on
strictly increasing card indices, DP x PP x TP).
"""
from __future__ import annotations

import itertools

import pytest

from autotune.outputs.emit import device_mesh, device_strings
from autotune.outputs.emit.devices import cards_needed, machine_meshes
from autotune.errors import InputError
from autotune.parallel_plan import ParallelPlan


def plan(tp: int, pp: int = 1, dp: int = 1, batch: int = 8) -> ParallelPlan:
    return ParallelPlan(tensor_parallel_size=tp, pipeline_parallel_size=pp, data_parallel_size=dp,
                        batch_size=batch, cards_used=0, pes_used=tp * pp * dp)


def parse(device: str) -> tuple[int, int, int]:
    """Returns (card, first PE, size) of `npu:C:P` or `npu:C:A-B`."""
    _, card, pes = device.split(":")
    first, _, last = pes.partition("-")
    size = int(last) - int(first) + 1 if last else 1
    return int(card), int(first), size


def runtime_mesh(devices: list[str], tp: int, pp: int, dp: int) -> list[list[list[tuple[int, int]]]]:
    """Returns the mesh the runtime forms from a flat device list (the reference's section 2 steps).

    PEs sorted by (card, PE), fused in chunks of min(8, TP), TP groups of consecutive chunks; each
    replica takes, stage by stage, the first unused TP group on a card above the previous stage's.
    """
    pes = sorted((card, first + k) for card, first, size in map(parse, devices) for k in range(size))
    chunk = min(8, tp)
    fused = [pes[i:i + chunk] for i in range(0, len(pes), chunk)]
    per_group = tp // chunk
    groups = [sum(fused[i:i + per_group], []) for i in range(0, len(fused), per_group)]
    used: set[int] = set()
    mesh = []
    for _ in range(dp):
        replica: list[list[tuple[int, int]]] = []
        while len(replica) < pp:
            last = replica[-1][-1][0] if replica else -1
            pick = next((i for i, g in enumerate(groups) if i not in used and g[0][0] > last), None)
            if pick is None:
                raise ValueError("cannot form a pp group")
            used.add(pick)
            replica.append(groups[pick])
        mesh.append(replica)
    return mesh


def our_mesh(text: str) -> list[list[list[tuple[int, int]]]]:
    """Returns the PE lists of a `||`/`|`/`,` mesh string."""
    out = []
    for replica in text.split("||"):
        stages = []
        for stage in replica.split("|"):
            pes = []
            for device in stage.split(","):
                card, first, size = parse(device)
                pes += [(card, first + k) for k in range(size)]
            stages.append(sorted(pes))
        out.append(stages)
    return out


LAYOUTS = [(tp, pp, dp) for tp, pp, dp in itertools.product((1, 2, 4, 8, 16, 32), (1, 2, 3, 4), (1, 2, 3, 4, 8))
           if (tp >= 8 and pp * tp // 8 <= 8 or tp < 8) and cards_needed(plan(tp, pp, dp)) <= 8]


def test_issue_example_two_replicas_of_four_pes_share_card_zero():
    # issue #5: "--devices with aligned PE ranges such as npu:0:0-3,npu:0:4-7"
    assert device_strings(plan(4, 1, 2)) == ["npu:0:0-3", "npu:0:4-7"]


def test_reference_device_mesh_example_tp4_pp2_dp2():
    # reference section 3.3 (2025.3 --device-mesh): "npu:0:0-3|npu:1:0-3||npu:0:4-7|npu:1:4-7"
    assert device_mesh(plan(4, 2, 2)) == "npu:0:0-3|npu:1:0-3||npu:0:4-7|npu:1:4-7"


def test_inter_chip_tp_takes_whole_cards():
    assert device_strings(plan(32)) == ["npu:0:0-7", "npu:1:0-7", "npu:2:0-7", "npu:3:0-7"]
    assert device_mesh(plan(16, 2)) == "npu:0:0-7,npu:1:0-7|npu:2:0-7,npu:3:0-7"


@pytest.mark.parametrize("tp,pp,dp", LAYOUTS)
def test_every_range_is_aligned_and_no_pe_is_used_twice(tp, pp, dp):
    devices = device_strings(plan(tp, pp, dp))
    pes = []
    for device in devices:
        card, first, size = parse(device)
        assert size in (1, 2, 4, 8) and size == min(8, tp), device
        assert first % size == 0 and first + size <= 8, device
        pes += [(card, first + k) for k in range(size)]
    assert len(pes) == len(set(pes)) == tp * pp * dp


@pytest.mark.parametrize("tp,pp,dp", LAYOUTS)
def test_stages_sit_on_strictly_increasing_cards(tp, pp, dp):
    for replica in our_mesh(device_mesh(plan(tp, pp, dp))):
        first_cards = [stage[0][0] for stage in replica]
        last_cards = [stage[-1][0] for stage in replica]
        assert all(last_cards[i] < first_cards[i + 1] for i in range(pp - 1)), replica


@pytest.mark.parametrize("tp,pp,dp", LAYOUTS)
def test_runtime_forms_the_same_mesh_from_the_flat_device_list(tp, pp, dp):
    p = plan(tp, pp, dp)
    assert runtime_mesh(device_strings(p), tp, pp, dp) == our_mesh(device_mesh(p))


def test_cards_needed_counts_blocks_of_replicas():
    assert cards_needed(plan(4, 1, 3)) == 2   # two 4-PE replicas per card
    assert cards_needed(plan(4, 2, 3)) == 4   # blocks of 2 replicas on PP = 2 cards each
    assert cards_needed(plan(16, 2, 2)) == 8
    assert cards_needed(plan(1, 1, 8)) == 1


def test_replicas_beyond_one_machine_are_split_with_local_card_indices():
    meshes = machine_meshes(plan(8, 1, 12))
    assert [m.data_parallel_size for m in meshes] == [8, 4]
    assert meshes[1].device_strings()[0] == "npu:0:0-7"
    with pytest.raises(InputError, match="machines"):
        device_strings(plan(8, 1, 12))


@pytest.mark.parametrize("tp,pp,field", [(3, 1, "tensor_parallel_size"), (12, 1, "tensor_parallel_size"),
                                         (32, 3, "tensor_parallel_size x pipeline_parallel_size")])
def test_unplaceable_plans_are_input_errors(tp, pp, field):
    with pytest.raises(InputError, match=field):
        device_strings(plan(tp, pp, 1))
