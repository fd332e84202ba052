"""Invariants of the card counting in `autotune.solver.rules`, over random layouts (hypothesis)."""
from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autotune.solver import rules
from autotune.specs.hardware_loader import load_hardware

RNGD = load_hardware("rngd")
UPD = RNGD.compute_units_per_device

layouts = st.tuples(st.sampled_from([1, 2, 4, 8, 16, 24, 32, 64]), st.integers(1, 8), st.integers(1, 16))


def _runtime_mesh_cards(tp: int, pp: int, dp: int) -> int | None:
    """Returns the cards the runtime's greedy mesh needs for the layout, or None if it fails.

    The mesh algorithm of furiosa-llm.md section 2: PEs in (card, PE) order fused into
    aligned chunks of min(8, TP); consecutive chunks form TP groups; a replica takes the
    next free TP group on a card with a higher index than its previous stage.
    """
    chunk = min(UPD, tp)
    chunks_per_group = -(-tp // UPD) if tp >= UPD else 1
    for cards in range(1, dp * pp * max(1, tp // UPD) + 2):
        groups = []  # (first card index of the group)
        units = [(card, pe) for card in range(cards) for pe in range(0, UPD, chunk)]
        for i in range(0, len(units) - chunks_per_group + 1, chunks_per_group):
            groups.append(units[i][0])
        free = list(range(len(groups)))
        ok = True
        for _ in range(dp):
            last = -1
            for _ in range(pp):
                pick = next((g for g in free if groups[g] > last), None)
                if pick is None:
                    ok = False
                    break
                free.remove(pick)
                last = groups[pick] + chunks_per_group - 1
            if not ok:
                break
        if ok:
            return cards
    return None


@settings(max_examples=200, deadline=None)
@given(layouts)
def test_devices_used_is_what_the_runtime_mesh_needs(layout):
    tp, pp, dp = layout
    used = int(rules.devices_used(RNGD, np.array([tp]), np.array([pp]), np.array([dp]))[0])
    assert used >= -(-(tp * pp * dp) // UPD)           # enough PEs
    assert used >= pp                                   # stages on distinct cards
    assert used <= dp * pp * -(-tp // UPD)              # never worse than a card per TP group
    assert used == _runtime_mesh_cards(tp, pp, dp)      # exactly what the runtime forms


def test_mixed_stage_packing_is_not_counted():
    # TP 4, PP 2, DP 3 fits 24 PEs = 3 cards on paper, but the runtime's mesh needs 4 cards.
    assert int(rules.devices_used(RNGD, np.array([4]), np.array([2]), np.array([3]))[0]) == 4


@settings(max_examples=100, deadline=None)
@given(layouts)
def test_devices_used_grows_with_replicas(layout):
    tp, pp, dp = layout
    counts = rules.devices_used(RNGD, np.full(4, tp), np.full(4, pp), np.arange(dp, dp + 4))
    assert (np.diff(counts) >= 0).all()


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([1, 2, 4, 8, 16, 32, 64]), st.integers(1, 8), st.integers(1, 16))
def test_devices_used_matches_the_emitted_placement(tp, pp, dp):
    from autotune.outputs.emit.devices import cards_needed
    from autotune.parallel_plan import ParallelPlan

    assume(-(-tp // UPD) * pp <= RNGD.devices_per_node)  # a replica runs within one machine
    used = int(rules.devices_used(RNGD, np.array([tp]), np.array([pp]), np.array([dp]))[0])
    plan = ParallelPlan(tensor_parallel_size=tp, pipeline_parallel_size=pp, data_parallel_size=dp,
                        batch_size=1, cards_used=used, pes_used=tp * pp * dp)
    assert cards_needed(plan) == used
