"""CSV tables: flat columns that round-trip through the csv module and agree with the JSON numbers."""
from __future__ import annotations

import csv
import importlib
import io

import numpy as np
import pytest

from autotune import api
from autotune.outputs import csv_out
from autotune.errors import InputError

# The sweep module is `autotune.solver.sweeps` (renamed so that `autotune.sweep` stays the API function); loading it
# first is harmless.
importlib.import_module("autotune.solver.sweeps")

LEAD = ["tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "batch_size", "cards_used",
        "pes_used", "feasible", "ttft_ms", "tpot_ms", "e2e_latency_ms", "throughput_tokens_per_s",
        "throughput_tokens_per_s_per_device"]
MEMORY = ["memory_weights_bytes", "memory_kv_cache_bytes", "memory_activations_bytes", "memory_reserved_bytes",
          "memory_total_bytes", "memory_capacity_bytes"]


@pytest.fixture(scope="module")
def listing():
    return api.enumerate_candidates("llama-3.1-8b", "rngd", cards=2)


@pytest.fixture(scope="module")
def front():
    return api.pareto("llama-3.1-8b", "rngd", cards=2)


@pytest.fixture(scope="module")
def swept():
    return api.sweep(["llama-3.1-8b", "llama-3.1-70b"], "rngd", cards=[1, 4])


def read(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def written(function, result) -> str:
    stream = io.StringIO()
    function(result, stream)
    return stream.getvalue()


def assert_row_matches(row: dict[str, str], expected: dict) -> None:
    """Every JSON key of a configuration has its column, with the same number."""
    for key, value in expected.items():
        if key == "memory_per_device_bytes":
            for part, amount in value.items():
                assert int(row[f"memory_{part}_bytes"]) == amount, part
        elif isinstance(value, bool):
            assert row[key] == ("true" if value else "false")
        elif isinstance(value, (int, float)):
            assert float(row[key]) == value, key
        elif isinstance(value, list):
            assert row[key] == "; ".join(value), key
        elif value is None:
            assert row[key] == "", key


def test_enumerate_round_trips_and_matches_the_json(listing):
    text = written(csv_out.enumerate_csv, listing)
    header, rows = read(text)
    assert header[:1 + len(LEAD) + len(MEMORY)] == ["rank", *LEAD, *MEMORY]
    assert header[-2:] == ["binding_limits", "violations"]
    assert len(rows) == len(listing.candidates) == listing.total_count
    for i, (row, candidate) in enumerate(zip(rows, listing.candidates)):
        assert row["rank"] == str(i + 1)
        assert_row_matches(row, candidate.to_dict())
    infeasible = [r for r in rows if r["feasible"] == "false"]
    assert infeasible and all(r["violations"] for r in infeasible)
    assert sum(r["feasible"] == "true" for r in rows) == listing.feasible_count


def test_violations_are_joined_with_semicolons(listing):
    many = [c for c in listing.candidates if len(c.metrics["violations"]) > 1]
    assert many, "the fixture needs a candidate with several violations"
    row = csv_out.recommendation_row(many[0])
    assert row["violations"] == "; ".join(many[0].metrics["violations"])


def test_pareto_rows_are_the_front_in_order_with_per_user_speed(front):
    header, rows = read(written(csv_out.pareto_csv, front))
    assert len(rows) == len(front.points) > 1
    assert header.index("tokens_per_s_per_user") == header.index("throughput_tokens_per_s_per_device") + 1
    for row, point in zip(rows, front.points):
        assert_row_matches(row, point.to_dict())
        assert float(row["tokens_per_s_per_user"]) == pytest.approx(1e3 / point.metrics["tpot_ms"], rel=1e-15)
    tpots = [float(r["tpot_ms"]) for r in rows]
    assert tpots == sorted(tpots)


def test_sweep_keeps_coordinates_status_and_reasons_for_every_point(swept):
    header, rows = read(written(csv_out.sweep_csv, swept))
    assert header[:5] == ["cards", "model", "dtype", "input_len", "status"]
    assert header[5:5 + len(LEAD)] == LEAD and header[-1] == "reasons"
    assert len(rows) == len(swept.points)
    for row, point in zip(rows, swept.points):
        assert (int(row["cards"]), row["model"], row["dtype"], int(row["input_len"]), row["status"]) == \
            (point.cards, point.model, point.dtype, point.input_len, point.status)
        if point.recommendation is None:
            # 70B on one card: the weights alone exceed 48 GB, so the reasons are there and the numbers empty.
            assert row["reasons"] == "; ".join(" ".join(r.split()) for r in point.reasons) != ""
            assert row["tpot_ms"] == "" and row["tensor_parallel_size"] == ""
        else:
            assert row["reasons"] == ""
            assert_row_matches(row, point.recommendation.to_dict())
    assert any(p.recommendation is None for p in swept.points)


def test_output_is_deterministic_with_unix_line_ends(listing, tmp_path):
    first = csv_out.enumerate_csv(listing, tmp_path / "a.csv")
    second = csv_out.enumerate_csv(listing, tmp_path / "b.csv")
    assert first == second == len(listing.candidates)
    data = (tmp_path / "a.csv").read_bytes()
    assert data == (tmp_path / "b.csv").read_bytes()
    assert b"\r" not in data and data.endswith(b"\n")


def test_dash_writes_to_stdout(front, capsys):
    count = csv_out.pareto_csv(front, "-")
    out = capsys.readouterr().out
    assert count == len(front.points)
    assert out.splitlines()[0].startswith("rank,tensor_parallel_size,")
    assert len(out.splitlines()) == count + 1


def test_empty_results_still_write_the_full_header(listing):
    empty = api.first_candidates(listing, 0)
    header, rows = read(written(csv_out.enumerate_csv, empty))
    assert rows == [] and header[:1 + len(LEAD)] == ["rank", *LEAD] and "memory_total_bytes" in header


def test_cells_are_stable_text():
    assert csv_out.cell(0.1 + 0.2) == "0.30000000000000004"  # shortest round-trip, not a rounded guess
    assert csv_out.cell(48e9) == "48000000000"
    assert csv_out.cell(np.float64(2.5)) == "2.5" and csv_out.cell(np.int64(7)) == "7"
    assert csv_out.cell(True) == "true" and csv_out.cell(np.bool_(False)) == "false"
    assert csv_out.cell(None) == "" and csv_out.cell(float("inf")) == "inf"
    assert csv_out.cell(["a", "b\nc"]) == "a; b c"


def test_values_with_commas_are_quoted_and_read_back(listing):
    stream = io.StringIO()
    csv_out.write_csv(stream, [{"rank": "1", "violations": "TP 1 not allowed (allowed: 8, 16 PEs)"}],
                      columns=["rank", "violations"])
    _, rows = read(stream.getvalue())
    assert rows == [{"rank": "1", "violations": "TP 1 not allowed (allowed: 8, 16 PEs)"}]


def test_unwritable_target_is_bad_input_naming_the_flag(listing, tmp_path):
    with pytest.raises(InputError, match=r"^--csv: got .*; expected a file in an existing directory, or - for "
                                         r"stdout$"):
        csv_out.enumerate_csv(listing, tmp_path / "absent" / "x.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputError, match=r"^--csv: got .*; expected a writable file"):
        csv_out.enumerate_csv(listing, tmp_path / "dir.csv")
