"""`autotune.solver.planning`: the plan is checked in the simulator, the replica choice against a brute force."""
from __future__ import annotations

import numpy as np
import pytest

from autotune import simulate
from autotune.errors import InputError
from autotune.solver.formulation import INFEASIBLE, OPTIMAL
from autotune.solver.planning import (RATE_SCALE, LayoutCapacity, ReplicaLayout, capacity_table, choose_replicas, plan,
                               slo_failure)
from autotune.specs.workload import Workload
from cost_models.serving.metrics import Distribution, ServingResult

MODEL, HARDWARE = "llama-3.2-1b", "rngd"
WORKLOAD = Workload(input_len=512, output_len=64, ttft_ms=500, tpot_ms=30)
REQUESTS = 200
RATE = 80


def _meets(result, workload: Workload) -> bool:
    return (not result.overloaded and result.ttft_ms.p90 <= workload.ttft_ms
            and result.tpot_ms.p90 <= workload.tpot_ms)


@pytest.fixture(scope="module")
def rate_plan():
    # One replica serves about 47 requests/s here (RNGD's own fit), so 80 requests/s need more than one.
    return plan(MODEL, HARDWARE, WORKLOAD, rate=RATE, requests=REQUESTS)


def test_plan_serves_the_rate_in_the_simulator_and_one_replica_fewer_does_not(rate_plan):
    assert rate_plan.status == OPTIMAL
    rec = rate_plan.recommendations[0]
    assert rec.replicas >= 2
    lay = rec.layout
    # Independently of the planner: the public simulator, the plan's layout, engine limit and replicas.
    kept = simulate(MODEL, HARDWARE, WORKLOAD, tp=lay.tp, pp=lay.pp, dp=rec.replicas, rate=RATE,
                    requests=rec.check.requests_per_replica * rec.replicas, max_num_seqs=lay.max_num_seqs)
    assert _meets(kept, WORKLOAD)
    fewer = simulate(MODEL, HARDWARE, WORKLOAD, tp=lay.tp, pp=lay.pp, dp=rec.replicas - 1, rate=RATE,
                     requests=rec.fewer.requests_per_replica * (rec.replicas - 1), max_num_seqs=lay.max_num_seqs)
    assert not _meets(fewer, WORKLOAD)
    assert rec.check.meets_slos and not rec.fewer.meets_slos
    assert rec.cards_used == lay.devices(rec.replicas)
    assert rec.rate_served >= RATE


def test_no_layout_serves_the_rate_on_fewer_cards(rate_plan):
    rec = rate_plan.recommendations[0]
    fewer_cards = rec.cards_used - 1
    for c in rate_plan.layouts:
        most = (fewer_cards // c.layout.devices_per_group) * c.layout.replicas_per_group
        assert most * c.rate_per_s < RATE, c.layout
    # The capacity table agrees: the first card count that serves RATE requests/s is the plan's.
    assert not rate_plan.notes
    assert min(p.cards for p in rate_plan.capacity if p.rate_served >= RATE) == rec.cards_used


def test_cards_mode_answers_the_capacity_table_and_is_deterministic(rate_plan):
    result = plan(MODEL, HARDWARE, WORKLOAD, cards=2, requests=REQUESTS)
    assert result.status == OPTIMAL
    rec = result.recommendations[0]
    at_two = [p for p in rate_plan.capacity if p.cards <= 2][-1]
    assert rec.rate_served == pytest.approx(at_two.rate_served)
    assert rec.cards_used <= 2 and rec.check.meets_slos
    # Same seed, same simulations: the per-layout capacities are identical across the two calls.
    assert result.to_dict()["layouts"] == rate_plan.to_dict()["layouts"]


def test_unreachable_slo_is_infeasible_with_the_reason():
    result = plan(MODEL, HARDWARE, Workload(input_len=512, output_len=64, tpot_ms=0.01), rate=1, requests=REQUESTS)
    assert result.status == INFEASIBLE and not result.recommendations
    assert "no replica layout meets the SLOs at any rate" in result.reasons[0]
    assert any("TPOT p90" in reason for reason in result.reasons[1:])


def test_more_cards_than_max_cards_is_infeasible(rate_plan):
    result = plan(MODEL, HARDWARE, WORKLOAD, rate=RATE, requests=REQUESTS, max_cards=1)
    assert result.status == INFEASIBLE
    assert "more than --max-cards 1" in result.reasons[0]
    assert result.capacity[-1].rate_served < RATE


def test_bad_inputs_name_the_flag(tmp_path):
    with pytest.raises(InputError, match="exactly one of --rate"):
        plan(MODEL, HARDWARE, WORKLOAD, rate=1, cards=2)
    with pytest.raises(InputError, match="--slo-percentile"):
        plan(MODEL, HARDWARE, WORKLOAD, rate=1, slo_percentile=95)
    with pytest.raises(InputError, match="--requests"):
        plan(MODEL, HARDWARE, WORKLOAD, rate=1, requests=5)
    trace = tmp_path / "trace.csv"
    trace.write_text("timestamp_s,input_len,output_len\n0,100,10\n0.5,100,10\n")
    with pytest.raises(InputError, match="Poisson"):
        plan(MODEL, HARDWARE, WORKLOAD, rate=1, lengths_file=trace)


# --- the replica choice (CP-SAT) against a brute force ----------------------------------------------------

def _option(tp: int, pp: int, devices: int, per_group: int, rate_units: int) -> LayoutCapacity:
    layout = ReplicaLayout(tp=tp, pp=pp, devices_per_group=devices, replicas_per_group=per_group, max_num_seqs=8)
    return LayoutCapacity(layout=layout, rate_units=rate_units, bound_rate_per_s=1.0, simulations=0)


def _brute(options, *, max_cards, rate_units=None, cards=None):
    """Returns the best (key, index, replicas) by enumeration, with choose_replicas' tie-breaks."""
    limit = max_cards if cards is None else cards
    best = None
    for k, o in enumerate(options):
        for n in range(1, limit * o.layout.replicas_per_group + 1):
            devices = o.layout.devices(n)
            served = n * o.rate_units
            if devices > limit or (rate_units is not None and served < rate_units):
                continue
            key = (devices, n, -served, k) if rate_units is not None else (-served, devices, n, k)
            if best is None or key < best[0]:
                best = (key, k, n)
    return best


def test_choose_replicas_equals_the_brute_force_on_random_instances():
    rng = np.random.default_rng(7)
    for _ in range(40):
        options = [_option(tp=int(t), pp=1, devices=int(rng.integers(1, 5)), per_group=int(rng.choice([1, 1, 2, 4])),
                           rate_units=int(rng.integers(1, 50)) * RATE_SCALE // 10)
                   for t in range(1, int(rng.integers(2, 5)))]
        max_cards = int(rng.integers(1, 13))
        rate_units = int(rng.integers(1, 200)) * RATE_SCALE // 10
        got = choose_replicas(options, max_cards=max_cards, rate_units=rate_units)
        want = _brute(options, max_cards=max_cards, rate_units=rate_units)
        if want is None:
            assert got.status == INFEASIBLE
        else:
            assert (got.index, got.replicas) == (want[1], want[2])
        got = choose_replicas(options, max_cards=max_cards, cards=max_cards)
        want = _brute(options, max_cards=max_cards, cards=max_cards)
        assert (got.index, got.replicas) == ((want[1], want[2]) if want else (None, 0))


def test_packed_replicas_share_a_device_group():
    # TP 4 of 8 units: two replicas on one card. Three replicas need two cards, not three.
    options = [_option(tp=4, pp=1, devices=1, per_group=2, rate_units=10 * RATE_SCALE)]
    got = choose_replicas(options, max_cards=8, rate_units=25 * RATE_SCALE)
    assert (got.replicas, options[0].layout.devices(got.replicas)) == (3, 2)


def test_capacity_table_equals_the_cards_answer_where_it_rises():
    options = [_option(tp=1, pp=1, devices=1, per_group=1, rate_units=3 * RATE_SCALE),
               _option(tp=2, pp=1, devices=3, per_group=1, rate_units=10 * RATE_SCALE),
               _option(tp=4, pp=1, devices=2, per_group=2, rate_units=2 * RATE_SCALE)]
    table = capacity_table(options, 12)
    previous = 0.0
    rows = {p.cards: p for p in table}
    for cards in range(1, 13):
        got = choose_replicas(options, max_cards=cards, cards=cards)
        served = got.replicas * options[got.index].rate_units / RATE_SCALE
        if served > previous:
            assert rows[cards].rate_served == pytest.approx(served)
            previous = served
        else:
            assert cards not in rows
    assert [p.cards for p in table] == sorted(rows)


# --- the SLO verdict ----------------------------------------------------------------------------------------

def _result(*, ttft_p90: float, tpot_p90: float, overloaded: bool = False) -> ServingResult:
    def dist(p90: float) -> Distribution:
        return Distribution(p50=p90 / 2, p90=p90, p99=p90 * 2, mean=p90 / 2)

    return ServingResult(requests=10, replicas=1, ttft_ms=None if overloaded else dist(ttft_p90),
                         tpot_ms=dist(tpot_p90), itl_ms=dist(tpot_p90), e2e_latency_ms=None, queueing_ms=None,
                         output_tokens_per_s=1.0, requests_per_s=1.0, goodput_requests_per_s=None,
                         peak_kv_fraction=0.1, peak_kv_tokens=1.0, preemptions=0, overloaded=overloaded,
                         simulated_s=1.0, steps=1, engine="vllm", release="0.10", max_num_seqs=8,
                         max_num_batched_tokens=8, traffic="poisson")


def test_slo_failure_reads_the_chosen_percentile():
    result = _result(ttft_p90=100.0, tpot_p90=20.0)
    assert slo_failure(result, ttft_ms=100.0, tpot_ms=20.0, percentile=90) is None
    assert "TTFT p99 200.0 ms > 100 ms" == slo_failure(result, ttft_ms=100.0, tpot_ms=None, percentile=99)
    assert "TPOT p90 20.0 ms > 19 ms" == slo_failure(result, ttft_ms=None, tpot_ms=19.0, percentile=90)
    assert slo_failure(result, ttft_ms=None, tpot_ms=None, percentile=50) is None
    assert "overloaded" in slo_failure(_result(ttft_p90=1, tpot_p90=1, overloaded=True), ttft_ms=None,
                                       tpot_ms=None, percentile=90)


def test_layout_devices_count_packed_groups():
    layout = ReplicaLayout(tp=2, pp=2, devices_per_group=2, replicas_per_group=4, max_num_seqs=1)
    assert [layout.devices(n) for n in (1, 4, 5, 8, 9)] == [2, 2, 4, 4, 6]


def test_package_exports_the_plan_and_estimate_functions():
    import autotune.solver.estimation  # noqa: F401  (modules whose names once shadowed the API functions)
    import autotune.parallel_plan  # noqa: F401
    from autotune import estimate, plan as exported

    assert exported is plan and callable(estimate)


def test_token_rate_is_the_rate_times_the_output_length(rate_plan):
    by_tokens = plan(MODEL, HARDWARE, WORKLOAD, token_rate=RATE * WORKLOAD.output_len, requests=REQUESTS)
    assert by_tokens.rate == pytest.approx(RATE)
    assert by_tokens.to_dict()["recommendations"] == rate_plan.to_dict()["recommendations"]
    with pytest.raises(InputError, match="--token-rate"):
        plan(MODEL, HARDWARE, WORKLOAD, rate=1, token_rate=64)


def test_an_moe_models_layouts_include_expert_and_attention_data_parallel_ones():
    # Qwen3-30B-A3B on H100s: the space runs EP and attention DP (vLLM), so a plan chooses among them too.
    from autotune.solver.planning import replica_layouts
    from autotune.specs.inputs import as_hardware, as_model, as_space
    from cost_models import load_params

    model, hardware = as_model("qwen3-30b-a3b"), as_hardware("h100-sxm")
    workload = Workload(input_len=1000, output_len=200)
    args = (model, hardware, as_space(None, hardware), workload)
    per_rank, _ = replica_layouts(*args, params=load_params(), per_rank_limits=True)
    whole, _ = replica_layouts(*args, params=load_params())
    shapes = {lay.shape for lay in per_rank}
    assert (2, 1, 2, 2) in shapes and (8, 1, 8, 8) in shapes and (2, 1, 1, 1) in shapes
    by_shape = {lay.shape: lay for lay in whole}
    for lay in per_rank:
        # Per-rank flags (vLLM, TensorRT-LLM): the replica's limit is ADP x a whole flag, at most the largest batch.
        assert lay.limit_ranks == lay.adp and lay.max_num_seqs % lay.adp == 0
        assert by_shape[lay.shape].max_num_seqs - lay.adp < lay.max_num_seqs <= by_shape[lay.shape].max_num_seqs
    # A dense model's layouts stay plain TP.
    dense, _ = replica_layouts(as_model("llama-3.1-8b"), hardware, as_space(None, hardware), workload,
                               params=load_params(), per_rank_limits=True)
    assert {(lay.ep, lay.adp, lay.limit_ranks) for lay in dense} == {(1, 1, 1)}


def test_an_moe_plan_names_its_degrees_and_the_engines_per_rank_flag(tmp_path):
    # An H100 machine of two GPUs (the preset with devices_per_node 2) keeps the layouts few.
    from pathlib import Path

    import autotune.presets
    preset = Path(autotune.presets.__file__).parent / "hardware" / "h100-sxm.yaml"
    text = preset.read_text().replace("devices_per_node: 8 ", "devices_per_node: 2 ")
    (tmp_path / "h100x2.yaml").write_text(text)
    result = plan("qwen3-30b-a3b", str(tmp_path / "h100x2.yaml"), Workload(input_len=1000, output_len=200,
                  tpot_ms=40), rate=30, requests=200, mode="agg")
    rec = result.to_dict()["recommendations"][0]
    assert rec["max_num_seqs_flag"] * rec["attention_data_parallel_size"] == rec["max_num_seqs"]
    assert {"expert_parallel_size", "attention_data_parallel_size"} <= set(result.to_dict()["capacity"][0])
    assert any(c.layout.adp > 1 for c in result.layouts)
