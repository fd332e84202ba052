"""Human reports: aligned, within 100 columns, with status, assumptions and binding limits."""
from __future__ import annotations

from autotune import api
from autotune.outputs import report


def _widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def test_recommend_report_fits_and_says_status_assumptions_and_binding():
    result = api.recommend("llama-3.1-70b", "rngd", cards=4, space="furiosa-2024.2", top=3)
    text = report.recommend_report(result)
    assert _widest(text) <= 100
    assert "status: OPTIMAL (proven optimal" in text
    flat = " ".join(text.split())  # the assumptions line wraps at 100 columns
    assert "space furiosa-2024.2; weights bf16, KV bf16; 2048 in + 512 out tokens; batch auto" in flat
    assert "binding limit" in text and "memory" in text


def test_infeasible_report_lists_reasons_and_alternatives():
    result = api.recommend("llama-3.1-70b", "rngd", cards=1, space="furiosa-2024.2")
    text = report.recommend_report(result)
    assert "why nothing fits" in text and "weights need 141.1 GB" in text
    assert "nearest alternatives" in text and "use 4 cards instead of 1" in text
    assert _widest(text) <= 100


def test_pareto_and_sweep_reports_fit():
    front = api.pareto("llama-3.1-8b", "h100-sxm", cards=8)
    assert _widest(report.pareto_report(front)) <= 100
    sweep = api.sweep("llama-3.1-70b", "rngd", cards="1..4")
    text = report.sweep_report(sweep)
    assert _widest(text) <= 100
    assert text.count("INFEASIBLE") >= 1 and text.count("OPTIMAL") >= 1


def test_recommend_report_breaks_memory_down_by_term():
    from autotune import api
    from autotune.outputs.report import recommend_report

    result = api.recommend("llama-3.1-8b", "rngd", cards=1)
    text = recommend_report(result)
    assert "memory per card, GB:" in text
    memory = result.recommendations[0].metrics["memory_per_device_bytes"]
    line = next(l for l in text.splitlines() if l.startswith("1 ") and l.rstrip().endswith(f"{memory['capacity'] / 1e9:.1f}"))
    assert f"{memory['weights'] / 1e9:.1f}" in line and f"{memory['kv_cache'] / 1e9:.1f}" in line


def test_sweep_report_names_the_hardwares_devices():
    # A GPU sweep counts GPUs, not cards (issue 8, 3.11).
    sweep = api.sweep("llama-3.1-8b", "h100-sxm", cards=[1, 2])
    text = report.sweep_report(sweep, device_name="GPU")
    header = next(line for line in text.splitlines() if "status" in line).split()
    assert header[0] == "GPUs" and header[-1] == "tok/s/GPU"
    assert "card" not in text


def test_an_unknown_status_does_not_call_candidates_feasible_beside_no_answer():
    # The time limit ran out before CP-SAT chose a row: rows that meet every limit exist, none was chosen.
    import dataclasses
    found = api.recommend("llama-3.1-8b", "h100-sxm", cards=2)
    unknown = dataclasses.replace(found, status="UNKNOWN", recommendations=(), candidates_total=307284,
                                  candidates_feasible=78104)
    text = " ".join(report.recommend_report(unknown).split())
    assert "78104 of 307284 candidates feasible" not in text
    assert "the time limit ran out before any configuration was found" in text
    assert "none chosen among 307284 candidates, of which 78104 meet every limit on their own" in text
    assert "no configuration found" not in text
    assert "allow more with --time-limit" in text
    # An answered or infeasible solve keeps the plain count.
    assert "candidates feasible)" in report.recommend_report(found)


def test_an_unknown_pareto_says_the_time_ran_out():
    import dataclasses
    front = api.pareto("llama-3.1-8b", "h100-sxm", cards=1)
    text = report.pareto_report(dataclasses.replace(front, status="UNKNOWN", points=()))
    assert "the time limit ran out before the solver found a configuration" in text


def test_a_one_point_front_says_point():
    import dataclasses
    front = api.pareto("llama-3.1-8b", "h100-sxm", cards=1)
    one = dataclasses.replace(front, points=front.points[:1])
    assert "; 1 point" in report.pareto_report(one) and "; 1 points" not in report.pareto_report(one)


def test_an_attention_dp_answer_says_how_its_ranks_were_balanced():
    moe = api.recommend("qwen3-30b-a3b", "h100-sxm", cards=2, tp=2, ep=2, adp=2)
    flat = " ".join(report.recommend_report(moe).split())
    assert "note: attention DP is priced with the busiest rank at the round-robin balance ratio" in flat
    plain = api.recommend("qwen3-30b-a3b", "h100-sxm", cards=2, tp=2, ep=1, adp=1)
    assert "attention DP is" not in report.recommend_report(plain)
