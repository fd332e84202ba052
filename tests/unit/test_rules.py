"""Rule checks: each release's distinctive rule, the 2024.2 documentation's examples, counting."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from autotune.solver import rules
from autotune.errors import InputError
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from autotune.specs.space import load_space
from autotune.specs.candidates import devices_per_replica

RNGD = load_hardware("rngd")
H100 = load_hardware("h100-sxm")
LLAMA_70B = load_model("llama-3.1-70b")     # 64 heads, 8 KV heads, 80 layers


def check(space_name, cards, tp, pp, dp, *, model=LLAMA_70B, hardware=RNGD):
    """Returns (violated rule ids, messages) for one row."""
    results = rules.check_rules(load_space(space_name), hardware, model, cards,
                                np.array([tp]), np.array([pp]), np.array([dp]))
    ids = [r.rule_id for r in results if r.violated[0]]
    return ids, rules.violations_for(results, 0)


# ---------------------------------------------------------------------------------------------
# The 2024.2 "Model Parallelism" documentation on 4 RNGD cards (32 PEs) [S-3].


def test_2024_2_tp8_pp4_dp1_is_valid():
    assert check("furiosa-2024.2", 4, 8, 4, 1) == ([], [])


def test_2024_2_tp4_pp2_dp2_uses_16_of_32_pes_and_dp4_is_suggested():
    ids, messages = check("furiosa-2024.2", 4, 4, 2, 2)
    assert ids == ["world_size"]
    assert messages == ["TP x PP x DP = 4 x 2 x 2 = 16 PEs, but furiosa-2024.2 requires exactly the 32 PEs "
                        "of 4 cards (DP 4 would use them all)"]
    assert check("furiosa-2024.2", 4, 4, 2, 4) == ([], [])


def test_2024_2_pp5_on_4_cards_is_rejected():
    ids, messages = check("furiosa-2024.2", 4, 8, 5, 1)
    assert "pp_distinct_devices" in ids
    assert "PP 5 > 4 cards: pipeline stages must be on distinct cards" in messages


def test_2024_2_tp2_is_rejected_by_the_release():
    ids, messages = check("furiosa-2024.2", 4, 2, 1, 16)
    assert ids == ["tp_allowed"]
    assert messages == ["TP 2 not allowed by furiosa-2024.2 (allowed: 4, 8 PEs)"]


def test_2024_2_equality_without_a_filling_dp_says_so():
    _, messages = check("furiosa-2024.2", 3, 8, 2, 1)
    assert messages[0].endswith("(no DP fills them with TP 8 x PP 2)")


# ---------------------------------------------------------------------------------------------
# Each other release's distinctive rule.


def test_2025_2_leaves_extra_pes_unused_but_keeps_tp_inside_a_card():
    assert check("furiosa-2025.2", 4, 4, 1, 1) == ([], [])
    assert check("furiosa-2025.2", 4, 2, 2, 3) == ([], [])
    ids, _ = check("furiosa-2025.2", 4, 16, 1, 1)
    assert ids == ["tp_allowed"]


def test_2025_3_allows_inter_card_tp_in_multiples_of_8():
    assert check("furiosa-2025.3", 2, 16, 1, 1) == ([], [])
    assert check("furiosa-2025.3", 3, 24, 1, 1) == ([], [])
    ids, messages = check("furiosa-2025.3", 2, 12, 1, 1)
    assert ids == ["tp_allowed"]
    assert "1, 2, 4, 8, 16" in messages[0]


def test_2025_3_too_many_pes_break_the_at_most_rule():
    ids, messages = check("furiosa-2025.3", 4, 8, 4, 2)
    assert ids == ["world_size"]
    assert messages == ["TP x PP x DP = 8 x 4 x 2 = 64 PEs, more than the 32 PEs of 4 cards"]


def test_2026_3_tp_4_8_32_and_ceil_tp8_times_pp_at_most_8():
    assert check("furiosa-2026.3", 8, 32, 2, 1) == ([], [])
    ids, _ = check("furiosa-2026.3", 8, 16, 1, 1)
    assert ids == ["tp_allowed"]
    ids, messages = check("furiosa-2026.3", 12, 32, 3, 1)
    assert ids == ["replica_devices"]
    assert messages[0].startswith("ceil(TP/8) x PP = 4 x 3 = 12 cards for one replica, but furiosa-2026.3 "
                                  "allows at most 8")


def test_2026_4_tp_groups_are_whole_cards_and_kv_heads_divide_by_cards():
    assert check("furiosa-2026.4", 2, 16, 1, 1) == ([], [])
    assert check("furiosa-2026.4", 8, 64, 1, 1) == ([], [])          # 8 KV heads over 8 cards
    ids, messages = check("furiosa-2026.4", 4, 4, 1, 8)
    assert ids == ["tp_allowed"]
    assert messages == ["TP 4 not allowed by furiosa-2026.4 (allowed: 8, 16, 32 PEs)"]
    qwen_7b = load_model("qwen2.5-7b")                                 # 4 KV heads
    ids, messages = check("furiosa-2026.4", 8, 64, 1, 1, model=qwen_7b)
    assert ids == ["kv_heads_divisible_by_cards"]
    assert messages[0].startswith("4 KV heads not divisible by the 8 cards of a TP 64 group")
    assert check("furiosa-2026.4", 8, 32, 1, 2, model=qwen_7b) == ([], [])


def test_gpu_tp_is_a_power_of_two_inside_a_machine_dividing_the_heads():
    assert check("gpu", 16, 8, 2, 1, hardware=H100) == ([], [])       # PP across 2 machines
    ids, messages = check("gpu", 16, 16, 1, 1, hardware=H100)
    assert ids == ["tp_within_node"]
    assert messages == ["TP 16 spans 16 GPUs, but one machine of h100-sxm holds 8: a TP group must stay "
                        "inside a machine"]
    ids, _ = check("gpu", 8, 6, 1, 1, hardware=H100)                 # 64 heads: 6 also does not divide
    assert ids == ["tp_allowed", "tp_divides_heads"]
    falcon_7b = load_model("falcon-7b")                                # 71 attention heads
    ids, messages = check("gpu", 8, 2, 1, 1, model=falcon_7b, hardware=H100)
    assert ids == ["tp_divides_heads"]
    assert messages == ["TP 2 does not divide the 71 attention heads"]


def test_a_stage_needs_a_layer():
    tiny = replace(LLAMA_70B, num_layers=2)
    ids, messages = check("gpu", 8, 1, 4, 1, model=tiny, hardware=H100)
    assert ids == ["pp_layers"]
    assert messages == ["PP 4 > 2 layers: every pipeline stage needs at least one layer"]


def test_packing_that_does_not_fit_the_fleet():
    # TP 4 x PP 3 x DP 3 = 36 PEs > 32 breaks world_size alone; TP 2 x PP 4 x DP 4 = 32 PEs fits.
    ids, _ = check("furiosa-2025.2", 4, 4, 3, 3)
    assert ids == ["world_size"]
    assert check("furiosa-2025.2", 4, 2, 4, 4) == ([], [])
    # TP 4 x PP 2 on 1 card: 8 PEs fit the card, but the 2 stages need 2 distinct cards.
    ids, _ = check("furiosa-2025.3", 1, 4, 2, 1)
    assert ids == ["fits_fleet", "pp_distinct_devices"]


def test_fits_fleet_alone_when_units_suffice_but_cards_do_not():
    # TP 12 on 3 cards (24 PEs): 2 groups need 2 cards each = 4 cards > 3 (a user space allowing 12).
    space = replace(load_space("furiosa-2025.3"), tp_sizes=(12,))
    results = rules.check_rules(space, RNGD, LLAMA_70B, 3, np.array([12]), np.array([1]), np.array([2]))
    assert [r.rule_id for r in results if r.violated[0]] == ["fits_fleet"]
    assert rules.violations_for(results, 0)[0].startswith("TP 12 x PP 1 x DP 2 needs 4 cards")


# ---------------------------------------------------------------------------------------------
# Counting


@pytest.mark.parametrize("tp,pp,dp,cards", [
    (8, 4, 1, 4),    # one card per stage
    (4, 2, 2, 2),    # 4 stage groups of 4 PEs, 2 per card, stages on distinct cards
    (4, 1, 3, 2),    # 3 groups of 4 PEs: 2 cards
    (2, 3, 2, 3),    # 6 groups of 2 PEs, 4 per card, but 3 stages need 3 cards
    (16, 2, 1, 4),   # 2 cards per stage
    (1, 1, 9, 2),    # 9 single PEs
    (12, 1, 1, 2),   # 12 PEs take 2 whole cards
])
def test_devices_used_on_rngd(tp, pp, dp, cards):
    assert rules.devices_used(RNGD, np.array([tp]), np.array([pp]), np.array([dp])).tolist() == [cards]
    assert rules.units_used(RNGD, np.array([tp]), np.array([pp]), np.array([dp])).tolist() == [tp * pp * dp]


def test_devices_used_on_gpus_is_the_world_size():
    tp, pp, dp = np.array([1, 2, 8]), np.array([1, 3, 2]), np.array([4, 1, 2])
    assert rules.devices_used(H100, tp, pp, dp).tolist() == [4, 6, 32]
    assert devices_per_replica(H100, tp, pp).tolist() == [1, 6, 16]
    assert devices_per_replica(RNGD, np.array([4, 32]), np.array([2, 3])).tolist() == [2, 12]


# ---------------------------------------------------------------------------------------------
# The superset and helpers


def test_degree_superset_is_sorted_unique_and_bounded():
    tp, pp, dp = rules.degree_superset(load_space("furiosa-2024.2"), RNGD, LLAMA_70B, 4)
    rows = list(zip(tp.tolist(), pp.tolist(), dp.tolist()))
    assert rows == sorted(set(rows))
    assert (tp * pp * dp <= 32).all() and pp.max() == 4
    assert set(tp.tolist()) == {1, 2, 4, 8, 16, 24, 32}
    assert (8, 4, 1) in rows and (4, 2, 2) in rows and (2, 1, 16) in rows


@pytest.mark.parametrize("space_name,hardware,cards", [
    ("furiosa-2024.2", RNGD, 4), ("furiosa-2025.2", RNGD, 3), ("furiosa-2025.3", RNGD, 5),
    ("furiosa-2026.3", RNGD, 8), ("furiosa-2026.4", RNGD, 6), ("gpu", H100, 12), ("gpu", H100, 1),
])
def test_degree_superset_holds_every_valid_row(space_name, hardware, cards):
    # Brute force: every (tp, pp, dp) up to the fleet's units that breaks no rule is in the superset.
    space = load_space(space_name)
    total = cards * hardware.compute_units_per_device
    grid = np.array([(t, p, d) for t in range(1, total + 1) for p in range(1, cards + 1)
                     for d in range(1, total // (t * p) + 1)], dtype=np.int64)
    results = rules.check_rules(space, hardware, LLAMA_70B, cards, grid[:, 0], grid[:, 1], grid[:, 2])
    valid = {tuple(row) for row in grid[rules.feasible_mask(results)].tolist()}
    tp, pp, dp = rules.degree_superset(space, hardware, LLAMA_70B, cards)
    assert valid <= set(zip(tp.tolist(), pp.tolist(), dp.tolist()))
    assert valid, "every case here has at least one valid layout"


def test_results_and_helpers():
    tp, pp, dp = np.array([8, 4, 2]), np.array([4, 2, 1]), np.array([1, 2, 16])
    results = rules.check_rules(load_space("furiosa-2024.2"), RNGD, LLAMA_70B, 4, tp, pp, dp)
    assert [r.rule_id for r in results] == ["tp_allowed", "world_size", "fits_fleet", "pp_distinct_devices",
                                            "pp_layers", "replica_devices"]
    assert rules.feasible_mask(results).tolist() == [True, False, False]
    world = next(r for r in results if r.rule_id == "world_size")
    assert world.description == "TP x PP x DP equals the 32 PEs of 4 cards"
    assert world.messages() == [world.message(1)]
    assert rules.violations_for(results, 0) == []


def test_gpu_space_has_its_own_rules():
    results = rules.check_rules(load_space("gpu"), H100, LLAMA_70B, 8, np.array([8]), np.array([1]), np.array([1]))
    assert [r.rule_id for r in results] == ["tp_allowed", "world_size", "fits_fleet", "pp_layers",
                                            "tp_within_node", "tp_divides_heads"]


def test_bad_degrees_and_fleets_are_input_errors():
    space = load_space("gpu")
    with pytest.raises(InputError, match="tensor_parallel_size"):
        rules.check_rules(space, H100, LLAMA_70B, 8, np.array([0]), np.array([1]), np.array([1]))
    with pytest.raises(InputError, match="cards"):
        rules.check_rules(space, H100, LLAMA_70B, 0, np.array([1]), np.array([1]), np.array([1]))
    with pytest.raises(InputError, match="cards"):
        rules.degree_superset(space, H100, LLAMA_70B, -2)
    with pytest.raises(ValueError, match="differ in length"):
        rules.check_rules(space, H100, LLAMA_70B, 8, np.array([1, 2]), np.array([1]), np.array([1]))


def test_a_space_must_count_units_the_hardware_has():
    with pytest.raises(InputError, match="h100-sxm has 1 compute unit"):
        rules.check_space_hardware(load_space("furiosa-2024.2"), H100)
    with pytest.raises(InputError, match="furiosa-2026.4"):
        rules.check_space_hardware(load_space("gpu"), RNGD)
    rules.check_space_hardware(load_space("gpu"), H100)
    rules.check_space_hardware(load_space("furiosa-2024.2"), RNGD)


def test_long_lists_of_allowed_tp_sizes_read_as_the_rule():
    ids, messages = check("furiosa-2025.3", 64, 12, 1, 1)
    assert ids == ["tp_allowed"]
    assert messages == ["TP 12 not allowed by furiosa-2025.3 (allowed: 1, 2, 4 or a multiple of 8, up to 512 PEs)"]


def test_dtype_violations():
    assert rules.dtype_violations(load_space("furiosa-2026.4"), "fp8") == []
    assert rules.dtype_violations(load_space("furiosa-2026.4"), "int4", "fp16") == [
        "weights in int4 not served by furiosa-2026.4 (formats: bf16, fp8)",
        "KV cache in fp16 not served by furiosa-2026.4 (formats: bf16, fp8)"]
    assert rules.dtype_violations(load_space("gpu"), "fp4", "fp8") == []


@pytest.mark.parametrize("space", ["furiosa-2024.2", "furiosa-2025.2", "furiosa-2025.3", "furiosa-2026.3",
                                   "furiosa-2026.4", "gpu"])
def test_every_space_states_that_a_stage_needs_a_layer(space):
    # furiosa-llm.md section 2 (2026.4 native runtime: PP needs >= 1 layer per rank). A file without
    # the rule does not load (it is not defaulted), and every shipped space enforces it.
    tiny = replace(LLAMA_70B, num_layers=2)
    hardware = H100 if space == "gpu" else load_hardware("rngd")
    tp = 1 if space == "gpu" else 8
    ids, _ = check(space, 4, tp, 4, 1, model=tiny, hardware=hardware)
    assert "pp_layers" in ids


# ---------------------------------------------------------------------------------------------
# Furiosa LLM 2026.4: a hybrid-attention model needs a layer of each attention type on every PP rank
# (../shared/reference/furiosa-llm.md, section 2, 2026.4 row).

def _exaone4(layers: int):
    from autotune.specs.architectures import model_spec_from_config

    # EXAONE 4.0's layout (3 sliding-window layers, then a global one: "LLLG") at a small depth.
    config = {"architectures": ["Exaone4ForCausalLM"], "model_type": "exaone4", "head_dim": 128, "hidden_size": 5120,
              "intermediate_size": 27392, "num_attention_heads": 40, "num_hidden_layers": layers,
              "num_key_value_heads": 8, "vocab_size": 102400, "sliding_window": 4096, "sliding_window_pattern": 4,
              "max_position_embeddings": 131072, "tie_word_embeddings": False}
    return model_spec_from_config(config, source="test exaone4")


def test_2026_4_a_stage_of_only_sliding_window_layers_is_rejected():
    model = _exaone4(8)            # layers 0-2 and 4-6 sliding, 3 and 7 global
    assert model.sliding_layers == (True, True, True, False) * 2
    ids, messages = check("furiosa-2026.4", 4, 8, 4, 1, model=model)   # 4 stages of 2 layers: 0-1 is all sliding
    assert ids == ["pp_attention_types"]
    assert messages == ["PP 4: stage 1 holds layers 0-1, only sliding-window attention; furiosa-2026.4 needs a "
                        "sliding-window and a global layer on every stage of a hybrid-attention model "
                        "(6 sliding-window and 2 global layers)"]
    assert check("furiosa-2026.4", 2, 8, 2, 1, model=model)[0] == []   # stages 0-3 and 4-7: LLLG each


def test_2026_4_hybrid_rule_spares_single_type_models_and_other_releases():
    assert check("furiosa-2026.4", 4, 8, 4, 1, model=load_model("llama-3.1-8b"))[0] == []
    assert "pp_attention_types" not in check("furiosa-2026.3", 4, 8, 4, 1, model=_exaone4(8))[0]
    # The shipped hybrid presets split on up to 8 cards keep both types on every stage.
    for name in ("exaone-4.0-32b", "gemma-3-27b-it", "gpt-oss-20b", "k-exaone-236b-a23b"):
        assert "pp_attention_types" not in check("furiosa-2026.4", 8, 8, 8, 1, model=load_model(name))[0], name


def test_stage_layer_ranges_are_even_and_contiguous():
    assert rules.stage_layer_ranges(10, 4) == [(0, 2), (3, 5), (6, 7), (8, 9)]
    assert rules.stage_layer_ranges(8, 8) == [(i, i) for i in range(8)]
