"""Invariants of the card counting in `autotune.rules`, over random layouts (hypothesis)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from autotune import rules
from autotune.specs.hardware_loader import load_hardware

RNGD = load_hardware("rngd")
UPD = RNGD.compute_units_per_device

layouts = st.tuples(st.sampled_from([1, 2, 4, 8, 16, 24, 32, 64]), st.integers(1, 8), st.integers(1, 16))


def _round_robin_fits(tp: int, pp: int, dp: int, cards: int) -> bool:
    """Returns whether the round-robin placement puts the layout on `cards` cards legally."""
    if tp >= UPD:
        return dp * pp * -(-tp // UPD) <= cards
    per_card = UPD // tp
    load = [0] * cards
    for replica in range(dp):
        used = set()
        for stage in range(pp):
            card = (replica * pp + stage) % cards
            if card in used:
                return False
            used.add(card)
            load[card] += 1
    return max(load) <= per_card


@settings(max_examples=200, deadline=None)
@given(layouts)
def test_devices_used_is_the_fewest_cards_that_hold_the_layout(layout):
    tp, pp, dp = layout
    used = int(rules.devices_used(RNGD, np.array([tp]), np.array([pp]), np.array([dp]))[0])
    assert used >= -(-(tp * pp * dp) // UPD)           # enough PEs
    assert used >= pp                                   # stages on distinct cards
    assert used <= dp * pp * -(-tp // UPD)              # never worse than a card per TP group
    assert _round_robin_fits(tp, pp, dp, used)          # achievable
    # Minimal: every size here divides or is a multiple of 8, so the two lower bounds meet.
    assert used == max(pp, -(-(tp * pp * dp) // UPD))


@settings(max_examples=100, deadline=None)
@given(layouts)
def test_devices_used_grows_with_replicas(layout):
    tp, pp, dp = layout
    counts = rules.devices_used(RNGD, np.full(4, tp), np.full(4, pp), np.arange(dp, dp + 4))
    assert (np.diff(counts) >= 0).all()
