"""The disaggregated search's CP-SAT model (`disagg_search.choose`), its cuts, keys and mode rules."""
from __future__ import annotations

import itertools

import pytest

from autotune.errors import InputError
from autotune.solver import disagg_search as ds
from autotune.solver.planning import ReplicaLayout


def _layout(tp, pp=1, devices=None, group=1):
    return ReplicaLayout(tp=tp, pp=pp, devices_per_group=devices or tp * pp, replicas_per_group=group,
                         max_num_seqs=256)


def _cap(role, layout, n):
    return ds.PoolCapacity(role=role, layout=layout, replicas_needed=n, rate_per_s=1.0 / max(n, 1), simulations=1)


def _brute(prefill, decode, budget, excluded=()):
    """Every admitted (prefill, x, decode, y), in choose's order: devices, replicas, prefill index, decode index."""
    cut = {d.key for d in excluded}
    rows = []
    for (i, p), (j, d) in itertools.product(enumerate(prefill), enumerate(decode)):
        for x, y in itertools.product(range(1, budget + 1), repeat=2):
            if ds.admitted(p, x, d, y, budget=budget):
                dep = ds.Deployment(prefill=p.layout, prefill_replicas=x, decode=d.layout, decode_replicas=y)
                if dep.key not in cut:
                    rows.append(((dep.devices, x + y, i, j), dep))
    return min(rows, key=lambda r: r[0])[1] if rows else None


def test_choose_takes_the_fewest_devices_over_both_pools():
    small, big = _layout(1), _layout(4)
    prefill = [_cap("prefill", small, 3), _cap("prefill", big, 1)]   # 3 devices or 4
    decode = [_cap("decode", small, 5), _cap("decode", big, 1)]      # 5 devices or 4
    got = ds.choose(prefill, decode, budget=16)
    assert (got.prefill.tp, got.prefill_replicas, got.decode.tp, got.decode_replicas) == (1, 3, 4, 1)
    assert got.devices == 7


def test_choose_respects_the_fleet_and_says_none():
    prefill = [_cap("prefill", _layout(4), 2)]
    decode = [_cap("decode", _layout(4), 2)]
    assert ds.choose(prefill, decode, budget=15) is None
    assert ds.choose(prefill, decode, budget=16).devices == 16
    assert ds.choose([_cap("prefill", _layout(1), 0)], decode, budget=64) is None  # no capacity: not a candidate


def test_packed_replicas_share_a_device():
    # An RNGD TP 4 replica is half a card: 3 replicas take 2 cards.
    half = _layout(4, devices=1, group=2)
    got = ds.choose([_cap("prefill", half, 3)], [_cap("decode", half, 1)], budget=8)
    assert (got.prefill_replicas, got.decode_replicas, got.devices) == (3, 1, 3)
    assert ds.Deployment(prefill=half, prefill_replicas=3, decode=half, decode_replicas=1).devices == 3


def test_cuts_exclude_exactly_the_deployment_and_the_order_matches_brute_force():
    layouts = [_layout(1), _layout(2), _layout(2, 2)]
    prefill = [_cap("prefill", lay, n) for lay, n in zip(layouts, (2, 1, 1))]
    decode = [_cap("decode", lay, n) for lay, n in zip(layouts, (3, 2, 1))]
    excluded = []
    for _ in range(12):
        got = ds.choose(prefill, decode, budget=10, excluded=excluded)
        want = _brute(prefill, decode, 10, excluded)
        assert (got is None) == (want is None)
        if got is None:
            break
        assert got.key == want.key
        excluded.append(got)
    assert len({d.key for d in excluded}) == len(excluded)  # never the same deployment twice


def test_key_and_bound_share_the_aggregated_scale():
    class Load:
        rate_per_s = 2.0

        class lengths:  # noqa: N801 - a stand-in with the one method read
            @staticmethod
            def means():
                return 1000.0, 100.0

    assert ds.bound_of(8, "throughput", Load) == pytest.approx(-2.0 * 100.0 / 8)
    assert ds.bound_of(8, "goodput", Load) == pytest.approx(-2.0 / 8)
    assert ds.bound_of(4, "throughput", Load) < ds.bound_of(8, "throughput", Load)


def test_objectives_outside_the_disaggregated_search_are_refused():
    with pytest.raises(InputError, match="--objective"):
        ds.check_objective("latency")
    ds.check_objective("goodput")


def test_furiosa_before_2026_4_has_no_disaggregation():
    from autotune.solver.request import resolve
    from cost_models.serving.engines import load_engine

    old = resolve("llama-3.1-8b", "rngd", cards=1, space="furiosa-2026.3")
    new = resolve("llama-3.1-8b", "rngd", cards=1, space="furiosa-2026.4")
    engine = load_engine("furiosa-llm", old.hardware)
    assert "2026.4" in ds.disagg_unavailable(old, engine)
    assert ds.disagg_unavailable(new, engine) is None
    standin, notes = ds.disagg_engine(new, engine)
    assert standin.release == "2026.4" and notes and "stand in" in notes[0]
    gpu = resolve("llama-3.1-8b", "h100-sxm", cards=1)
    assert ds.disagg_unavailable(gpu, load_engine("vllm", gpu.hardware)) is None
    # Furiosa pools are PP 1 only (the 2026.4 rule).
    assert all(lay.pp == 1 for lay in ds.pool_layouts(resolve("llama-3.1-8b", "rngd", cards=4,
                                                               space="furiosa-2026.4")))


def test_python_api_recommend_mode():
    from autotune import Workload, recommend

    w = Workload(input_len=2000, output_len=100, ttft_ms=1500, tpot_ms=40)
    both = recommend("llama-3.1-8b", "l40s", w, cards=4, rate=6.0, requests=200, mode="both")
    modes = both.to_dict()["modes"]
    assert modes["winner"] in ("agg", "disagg")
    assert both.recommendations[0].metrics["mode"] == modes["winner"]
    disagg = recommend("llama-3.1-8b", "l40s", w, cards=4, rate=6.0, requests=200, mode="disagg")
    rec = disagg.to_dict()["recommendations"][0]
    assert rec["mode"] == "disagg" and rec["cards_used"] == rec["prefill"]["devices"] + rec["decode"]["devices"]
    with pytest.raises(InputError, match="--mode"):
        recommend("llama-3.1-8b", "l40s", w, cards=4, concurrency=8, requests=200, mode="both")


def test_comparison_value_then_devices_then_tpot_and_the_ratio():
    from autotune.outputs.disagg_report import comparison_line
    from autotune.solver.disagg_answers import comparison

    # Disaggregated serves more per device: it wins, by the ratio of the values per device.
    modes = comparison("throughput", "GPU", ("OPTIMAL", (-200.0, 3.0, 30.0)), ("OPTIMAL", (-300.0, 2.0, 25.0)))
    assert modes["winner"] == "disagg" and modes["ratio"] == 1.5
    assert "disaggregated wins" in comparison_line(modes, rate=6, word="GPU")
    # The value compared is the rate's tokens per device, which the report says (not the simulated tok/s).
    assert modes["disagg"]["value"] == "output tokens/s per GPU at the offered rate"
    assert "300 output tokens/s per GPU at the offered rate on 2 GPUs" in comparison_line(modes, rate=6, word="GPU")
    one = comparison("throughput", "GPU", ("OPTIMAL", (-300.0, 1.0, 20.0)), ("OPTIMAL", (-150.0, 2.0, 10.0)))
    assert "on 1 GPU vs 150 on 2 GPUs disaggregated" in comparison_line(one, rate=6, word="GPU")
    # Same value and devices: the lower TPOT wins; a full tie goes to aggregated (one pool).
    tie = comparison("goodput", "GPU", ("OPTIMAL", (-2.0, 3.0, 36.6)), ("OPTIMAL", (-2.0, 3.0, 25.3)))
    assert tie["winner"] == "disagg" and "lower TPOT" in comparison_line(tie, rate=6, word="GPU")
    full = comparison("goodput", "GPU", ("OPTIMAL", (-2.0, 3.0, 25.0)), ("OPTIMAL", (-2.0, 3.0, 25.0)))
    assert full["winner"] == "agg" and "aggregated kept" in comparison_line(full, rate=6, word="GPU")
    none = comparison("throughput", "GPU", ("INFEASIBLE", None), ("OPTIMAL", (-100.0, 4.0, 20.0)))
    assert none["winner"] == "disagg" and none["ratio"] is None
    assert "none of the fleet" in comparison_line(none, rate=6, word="GPU")


def test_a_time_limit_stops_the_loop_with_the_best_verified_so_far():
    from autotune import Workload
    from autotune.solver import under_load as ul
    from autotune.solver.request import resolve
    from cost_models.serving.engines import load_engine
    from cost_models.serving.traffic import fixed_lengths

    request = resolve("llama-3.1-8b", "l40s", Workload(input_len=2000, output_len=100, ttft_ms=1500, tpot_ms=40),
                      cards=4)
    load = ul.Load(rate_per_s=6.0, lengths=fixed_lengths(2000, 100), lengths_text="fixed",
                   engine=load_engine("vllm", request.hardware), requests=200)
    stopped = ds.search(request, load, "throughput", time_limit_s=0.0)
    assert stopped.status == "UNKNOWN" and not stopped.best and not stopped.verified
    assert "not proven" in stopped.notes[-1]
    full = ds.search(request, load, "throughput")
    assert full.status == "OPTIMAL" and full.best
