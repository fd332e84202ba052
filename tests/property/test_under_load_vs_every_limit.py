"""The search under load against a scan of every integer max_num_seqs at every token budget of every layout
(small instances).

`autotune.solver.under_load` simulates few limits per layout and budget: one run at M stands for every limit
above its peak of running requests, and bisection finds the feasible interval below, assuming the queue only
improves and TPOT only worsens as the limit rises; the budgets after the default are skipped where the
default reaches the layout's bound. Here every limit from 1 to M (vLLM: to the budget) is simulated at every
budget of the ladder: the assumptions are checked on these instances, and the answer must equal the scan's
best for every objective (its limit within the scan's class of equal outcomes).
"""
import os

import pytest

from autotune import Workload
from autotune.solver import under_load as ul
from autotune.solver.request import resolve
from cost_models.serving.engines import default_engine, load_engine
from cost_models.serving.traffic import fixed_lengths

#: (model, hardware, cards, traffic, input, output, TTFT SLO ms, TPOT SLO ms): limits bind on both sides.
#: Traffic: a rate (requests/s, float) or a concurrency (clients, int).
INSTANCES = [
    ("llama-3.1-8b", "l40s", 2, 2.0, 3000, 100, 1500.0, 50.0),
    # A second rate on the same fleet: a minute more; AUTOTUNE_SLOW_TESTS=1 runs it.
    pytest.param(("llama-3.1-8b", "l40s", 2, 3.0, 3000, 100, 2000.0, 60.0),
                 marks=pytest.mark.skipif(os.environ.get("AUTOTUNE_SLOW_TESTS") != "1",
                                          reason="a minute: set AUTOTUNE_SLOW_TESTS=1")),
    ("llama-3.1-8b", "rngd", 1, 0.5, 3000, 100, 4000.0, 80.0),  # Furiosa LLM: buckets, no mixed steps
    ("llama-3.1-8b", "l40s", 1, 24, 3000, 100, 5000.0, 60.0),  # closed loop
]


def _instance(model, hardware, cards, traffic, input_len, output_len, ttft_ms, tpot_ms):
    request = resolve(model, hardware, Workload(input_len=input_len, output_len=output_len, ttft_ms=ttft_ms,
                                                tpot_ms=tpot_ms), cards=cards)
    closed = isinstance(traffic, int)
    load = ul.Load(rate_per_s=None if closed else traffic, concurrency=traffic if closed else None,
                   lengths=fixed_lengths(input_len, output_len), lengths_text="fixed",
                   engine=load_engine(default_engine(request.hardware), request.hardware), requests=200)
    return request, load


def _label(instance) -> str:
    traffic = instance[3]
    return f"{instance[1]}-{instance[2]}x-" + (f"clients{traffic}" if isinstance(traffic, int) else f"rate{traffic:g}")


@pytest.fixture(scope="module", params=INSTANCES, ids=_label)
def scanned(request):
    req, load = _instance(*request.param)
    evaluator = ul.Evaluator(req, load)
    every = {(layout, budget): [evaluator.outcome(layout, m, budget)
                                for m in range(1, ul.largest_limit(evaluator, layout, budget) + 1)]
             for layout in ul.layouts_of(req) for budget in evaluator.budgets_of(layout)}
    return req, load, evaluator, every


def test_the_search_assumptions_hold_on_every_limit(scanned):
    _, load, _, every = scanned
    feasible_somewhere = False
    for (layout, budget), outcomes in every.items():
        queue = [o.queue_ok for o in outcomes]
        tpot = [o.tpot_ok for o in outcomes]
        feasible_somewhere |= any(o.failure is None for o in outcomes)
        peak = outcomes[-1].result.peak_running
        for o in outcomes[peak:]:  # limits above the peak: the very same run as at M
            assert (o.ttft_ms, o.tpot_ms, o.result.goodput_requests_per_s) == (
                outcomes[-1].ttft_ms, outcomes[-1].tpot_ms, outcomes[-1].result.goodput_requests_per_s)
        if load.concurrency is not None:
            continue  # a closed loop is scanned limit by limit: no monotone queue assumed
        where = f"{layout.key} at {budget} tokens per step"
        assert all(b or not a for a, b in zip(queue, queue[1:])), f"{where}: the queue worsened with the limit"
        assert all(a or not b for a, b in zip(tpot, tpot[1:])), f"{where}: TPOT improved with the limit"
    assert feasible_somewhere


def _representatives(every):
    """Returns every limit's outcome, those above the run's peak replaced by M's: one class, reported as M."""
    out = []
    for outcomes in every.values():
        top = outcomes[-1].result.peak_running + 1
        out += [o if o.max_num_seqs < top else outcomes[-1] for o in outcomes]
    return out


@pytest.mark.parametrize("objective", ul.LOAD_OBJECTIVES)
def test_the_search_equals_the_scan_of_every_limit(scanned, objective):
    req, load, evaluator, every = scanned
    feasible = [o for o in _representatives(every) if o.failure is None]
    best = min(feasible, key=lambda o: ul.objective_key(o, objective, load))
    answer = ul.search(req, load, objective, top=1, evaluator=evaluator)
    assert answer.status == "OPTIMAL"
    found = answer.best[0]
    assert found.failure is None
    assert ul.objective_key(found, objective, load) == ul.objective_key(best, objective, load)
    assert (found.layout, found.max_num_seqs, found.max_num_batched_tokens) == (
        best.layout, best.max_num_seqs, best.max_num_batched_tokens)


def test_pruned_layouts_could_not_beat_the_answer(scanned):
    req, load, evaluator, every = scanned
    answer = ul.search(req, load, "goodput", top=1, evaluator=evaluator)
    best = ul.objective_key(answer.best[0], "goodput", load)
    for outcomes in every.values():
        for o in outcomes:
            if o.failure is None:
                assert ul.objective_key(o, "goodput", load) >= best


@pytest.mark.parametrize("objective", ("throughput", "latency"))
def test_the_top_three_equal_the_scan_best_of_each_layout(scanned, objective):
    """The answers after the first are cut by the third best's key (`best_setting`'s `beat`, `tpot_cut_ms`): the
    three best layouts must still be the scan's, each at its own best limit and budget."""
    req, load, evaluator, every = scanned
    best_of: dict = {}
    for o in _representatives(every):
        if o.failure is None:
            key = ul.objective_key(o, objective, load)
            if o.layout.key not in best_of or key < best_of[o.layout.key][0]:
                best_of[o.layout.key] = (key, o)
    expected = sorted((key, layout) for layout, (key, _) in best_of.items())[:3]
    answer = ul.search(req, load, objective, top=3, evaluator=evaluator)
    assert [(ul.objective_key(o, objective, load), o.layout.key) for o in answer.best] == expected


def test_a_fresh_search_simulates_fewer_settings_and_answers_the_same(scanned):
    """Without the scan's runs the search settles budgets from the limit that settled the last one (one run when
    its queue and TPOT both fail): same answer, and in an open loop under a quarter of the scan's settings."""
    req, load, evaluator, every = scanned
    fresh = ul.Evaluator(req, load)
    for objective in ("throughput", "latency"):
        answer = ul.search(req, load, objective, top=1, evaluator=fresh)
        scanned_answer = ul.search(req, load, objective, top=1, evaluator=evaluator)
        assert (answer.best[0].layout, answer.best[0].max_num_seqs, answer.best[0].max_num_batched_tokens) == (
            scanned_answer.best[0].layout, scanned_answer.best[0].max_num_seqs,
            scanned_answer.best[0].max_num_batched_tokens)
    if load.concurrency is None:  # a closed loop scans every limit below its peak: no certificate
        assert len(fresh.cache) < sum(len(outcomes) for outcomes in every.values()) / 4
