"""The disaggregated search against a brute force over every (prefill layout, x, decode layout, y) within the fleet.

The brute force uses the same capacity coefficients (`DisaggEvaluator.coefficient`, computed here for every
layout, where the search computes them level by level) and the same verification (`DisaggEvaluator.verify`): it
simulates every admitted deployment and takes the best verified one by `disagg_key`. The search's lazy CP-SAT
loop must return the same deployment, and never an unverified one.
"""
import itertools

import pytest

from autotune import Workload
from autotune.solver import disagg_search as ds
from autotune.solver import under_load as ul
from autotune.solver.request import resolve
from cost_models.serving.engines import default_engine, load_engine
from cost_models.serving.traffic import fixed_lengths

#: (model, hardware, cards, rate, input, output, TTFT SLO ms, TPOT SLO ms)
INSTANCES = [
    ("llama-3.1-8b", "l40s", 4, 3.0, 2000, 100, 1500.0, 40.0),
    ("llama-3.1-8b", "l40s", 4, 6.0, 2000, 100, 1000.0, 30.0),
    ("llama-3.1-8b", "h100-sxm", 3, 8.0, 3000, 200, 800.0, 15.0),
    ("llama-3.1-8b", "l40s", 5, 5.0, 2000, 100, 700.0, 35.0),  # several deployments tie on devices
    ("llama-3.1-8b", "rngd", 4, 2.0, 2000, 100, 1500.0, 60.0),  # Furiosa LLM 2026.4 at PP 1, buckets
]


def _instance(model, hardware, cards, rate, input_len, output_len, ttft_ms, tpot_ms):
    space = "furiosa-2026.4" if hardware == "rngd" else None
    request = resolve(model, hardware, Workload(input_len=input_len, output_len=output_len, ttft_ms=ttft_ms,
                                                tpot_ms=tpot_ms), cards=cards, space=space)
    load = ul.Load(rate_per_s=rate, lengths=fixed_lengths(input_len, output_len), lengths_text="fixed",
                   engine=load_engine(default_engine(request.hardware), request.hardware), requests=200)
    return request, load


@pytest.mark.parametrize("instance", INSTANCES, ids=lambda i: f"{i[1]}-{i[2]}x-rate{i[3]:g}")
@pytest.mark.parametrize("objective", ds.DISAGG_OBJECTIVES)
def test_search_equals_brute_force(instance, objective):
    request, load = _instance(*instance)
    evaluator = ds.DisaggEvaluator(request, load)
    answer = ds.search(request, load, objective, evaluator=evaluator)
    assert all(o.failure is None for o in answer.best)  # never an unverified answer
    budget = request.cards
    caps = {role: [evaluator.coefficient(role, lay) for lay in evaluator.layouts] for role in ("prefill", "decode")}
    verified = []
    for p, d in itertools.product(caps["prefill"], caps["decode"]):
        for x, y in itertools.product(range(1, budget + 1), repeat=2):
            if ds.admitted(p, x, d, y, budget=budget):
                outcome = evaluator.verify(ds.Deployment(prefill=p.layout, prefill_replicas=x, decode=d.layout,
                                                         decode_replicas=y))
                if outcome.failure is None:
                    verified.append(outcome)
    if not verified:
        assert not answer.best and answer.status == "INFEASIBLE"
        return
    best = min(verified, key=lambda o: ds.disagg_key(o, objective, load))
    assert answer.status == "OPTIMAL"
    assert answer.best[0].deployment.key == best.deployment.key
    assert ds.disagg_key(answer.best[0], objective, load) == ds.disagg_key(best, objective, load)
