"""`--ep`/`--adp` from the command line: pins on recommend, pareto, enumerate and estimate, JSON keys, exit codes."""
from __future__ import annotations

from tests.cli.solver_cli import autotune

MOE = ("--model", "qwen3-30b-a3b", "--hardware", "h100-sxm")


def test_recommend_pins_ep_and_adp_and_prints_their_columns():
    run = autotune("recommend", *MOE, "--cards", "4", "--ep", "4", "--adp", "4")
    assert run.code == 0, run.stderr
    header = next(line for line in run.stdout.splitlines() if line.startswith("#  TP"))
    assert header.split()[:6] == ["#", "TP", "PP", "DP", "EP", "ADP"]
    doc = autotune("recommend", *MOE, "--cards", "4", "--ep", "4", "--adp", "4", "--json").json()
    plan = doc["recommendations"][0]   # the plan keys sit in each recommendation
    assert (plan["tensor_parallel_size"], plan["expert_parallel_size"], plan["attention_data_parallel_size"]) == (4, 4, 4)


def test_pareto_and_enumerate_take_the_pins():
    front = autotune("pareto", *MOE, "--cards", "2", "--ep", "2", "--json")
    assert front.code == 0, front.stderr
    assert {p["expert_parallel_size"] for p in front.json()["points"]} == {2}
    listing = autotune("enumerate", *MOE, "--cards", "2", "--adp", "2", "--feasible-only", "--json")
    assert listing.code == 0, listing.stderr
    plans = listing.json()["candidates"]
    assert plans and {p["attention_data_parallel_size"] for p in plans} == {2}


def test_a_degree_the_space_does_not_run_is_infeasible_with_the_reason():
    run = autotune("recommend", *MOE, "--cards", "4", "--tp", "4", "--ep", "2", "--no-alternatives")
    assert run.code == 1
    assert "EP 2 with TP 4 not run by gpu" in run.stdout + run.stderr
    furiosa = autotune("estimate", "--model", "qwen3-30b-a3b", "--hardware", "rngd", "--tp", "16", "--ep", "2")
    assert furiosa.code == 1 and "EP is 1 only" in furiosa.stderr


def test_estimate_ep_adp_json_and_emit():
    run = autotune("estimate", *MOE, "--tp", "4", "--ep", "4", "--adp", "4", "--emit", "sglang", "--json")
    assert run.code == 0, run.stderr
    doc = run.json()
    assert (doc["ep"], doc["adp"]) == (4, 4)
    text = doc["settings"]["text"]
    assert "--ep-size 4" in text and "--enable-dp-attention" in text
    dense = autotune("estimate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--tp", "2", "--json")
    assert "ep" not in dense.json() and "adp" not in dense.json()


def test_bad_values_are_one_line_input_errors():
    for flag in ("--ep", "--adp"):
        run = autotune("recommend", *MOE, flag, "zero")
        assert run.code == 2 and flag in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_under_load_the_pins_hold_and_the_simulator_prices_the_moe_layout():
    run = autotune("recommend", *MOE, "--cards", "2", "--ep", "2", "--adp", "2", "--rate", "4", "--input-len", "1000",
                   "--output-len", "100", "--requests", "200", "--mode", "agg", "--json")
    assert run.code == 0, run.stderr
    rec = run.json()["recommendations"][0]
    assert (rec["tensor_parallel_size"], rec["expert_parallel_size"], rec["attention_data_parallel_size"]) == (2, 2, 2)
    plain = autotune("recommend", *MOE, "--cards", "2", "--tp", "2", "--dp", "1", "--ep", "1", "--adp", "1", "--rate",
                     "4", "--input-len", "1000", "--output-len", "100", "--requests", "200", "--mode", "agg", "--json")
    assert plain.code == 0, plain.stderr
    # The same TP 2 replica priced with experts and attention split differently: other simulated latencies.
    assert plain.json()["recommendations"][0]["serving"]["tpot_ms"] != rec["serving"]["tpot_ms"]


def test_a_bad_moe_key_in_a_space_file_is_one_line(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text((__import__("autotune.specs.space", fromlist=["SPACE_DIR"]).SPACE_DIR / "gpu.yaml").read_text()
                     .replace("expert_parallel: one_or_all", "expert_parallel: half"))
    run = autotune("recommend", *MOE, "--space", str(space))
    assert run.code == 2 and "moe_parallel.expert_parallel" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
