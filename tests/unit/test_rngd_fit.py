"""RNGD's own serving parameters (`cost_models.rngd_fit`): per-hardware values, the prefill ladder, the fit.

The fit's data, `rngd_serving.csv`, stays outside the repository (../shared/data/measurements, third-party
runs of furiosa-ai/Qwen3-4B-FP8 on one RNGD card with furiosa-llm 2026.3.0; its README gives the source):
the tests that read it skip without it.
"""
from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest
import yaml

from autotune.errors import InputError
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from cost_models import rngd_fit
from cost_models.params import DEFAULT_PARAMS_PATH, dump_params, load_params
from cost_models.serving.engines import load_engine
from cost_models.serving.simulator import prepare_replica, simulate_layout
from cost_models.serving.traffic import Traffic, fixed_lengths
from tests.shared_data import SHARED, needs_shared

DATA = SHARED / "data" / "measurements" / "rngd_serving.csv" if SHARED is not None else None
slow = pytest.mark.skipif(os.environ.get("AUTOTUNE_SLOW_TESTS") != "1",
                          reason="minutes: set AUTOTUNE_SLOW_TESTS=1 (figures in docs/cost-model.md)")


# --- per-hardware values in the parameter file -------------------------------------------------------------

def test_the_shipped_file_gives_rngd_its_own_values_and_the_gpus_the_shared_ones():
    params = load_params()
    rngd = params.for_hardware("rngd")
    assert set(params.hardware_values["rngd"]) == set(rngd_fit.FIT_FIELDS)
    for name in rngd_fit.FIT_FIELDS:
        assert rngd.value(name) == params.hardware_values["rngd"][name]
        assert "rngd: fitted by cost_models.rngd_fit" in params.sources[name]
    # A GPU keeps the shared (GPU-fitted) values: the same object, nothing replaced.
    assert params.for_hardware("h100-sxm") is params
    assert params.compute_efficiency_8bit == pytest.approx(0.552778)


def test_a_per_hardware_value_round_trips_through_the_file(tmp_path):
    params = load_params()
    changed = rngd_fit.with_rngd(params, {"step_overhead_s": 0.004})
    dump_params(changed, tmp_path / "p.yaml")
    again = load_params(tmp_path / "p.yaml")
    assert again.hardware_values == changed.hardware_values
    assert again.for_hardware("rngd").step_overhead_s == 0.004
    assert again.step_overhead_s == params.step_overhead_s


def test_a_per_hardware_value_without_a_default_is_refused(tmp_path):
    document = yaml.safe_load(DEFAULT_PARAMS_PATH.read_text())
    document["parameters"]["step_overhead_s"]["value"] = {"rngd": 0.002}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(InputError, match="step_overhead_s"):
        load_params(path)


# --- the prefill ladder of Qwen3 artifacts ------------------------------------------------------------------

def test_qwen3_prefill_chunks_pad_to_the_tokenwise_ladder_and_llama_to_the_chunk_step():
    buckets = load_engine("furiosa-llm", load_hardware("rngd"), release="2026.3").buckets
    qwen3 = buckets.for_model("qwen3")
    # Measured (rngd_serving.csv probes): 522 tokens take the 1019-token time; 1272 = 1024 + 256.
    assert [qwen3.padded_chunk(n) for n in (124, 247, 522, 1019, 248)] == [128, 256, 1024, 1024, 256]
    # Llama artifacts keep prefill buckets every 128 tokens (d6ae6a43 grid, furiosa-llm.md section 6 item 2).
    assert buckets.for_model("llama").padded_chunk(522) == 640
    assert load_engine("furiosa-llm", load_hardware("rngd"), release="2026.2").buckets.for_model(
        "qwen3").padded_chunk(522) == 640


# --- the scheduler's clock -----------------------------------------------------------------------------------

def test_a_lone_request_takes_its_prefill_and_one_decode_step():
    # One client, 2 output tokens: a prefill step then one decode step, each counted once on the clock
    # (a stalled prefill was once added again when the decode run started).
    model, hardware = load_model("qwen3-4b"), load_hardware("rngd")
    params = load_params()
    engine = load_engine("furiosa-llm", hardware)
    pricer, limits = prepare_replica(model, hardware, dtype="fp8", kv_dtype="fp8", tp=8, pp=1, engine=engine,
                                     params=params)
    prefill = pricer.step_s(0, 128, 1, 0.0, pricer.attention.prefill_pairs(0, 128), 1)
    decode = pricer.step_s(1, 0, 0, pricer.attention.pairs(limits.buckets.attention_bucket(1, 129)), 0.0, 1)
    result = simulate_layout(model, hardware, dtype="fp8", kv_dtype="fp8", tp=8, pp=1, dp=1, engine=engine,
                             params=params, traffic=Traffic(requests=48, lengths=fixed_lengths(128, 2),
                                                            concurrency=1))
    assert result.requests_per_s == pytest.approx(1.0 / (prefill + decode), rel=1e-6)
    assert result.ttft_ms.p50 == pytest.approx(prefill * 1e3, rel=1e-6)


# --- the fit on the measured rows ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def points():
    return rngd_fit.usable_points(DATA)


@needs_shared
def test_the_usable_rows_and_what_each_is_fitted_on(points):
    used, excluded = points
    assert [p.row.row_id for p in used] == [f"r{i}" for i in range(3, 19)]
    assert [e[0] for e in excluded] == ["r1", "r2"]  # Qwen2.5-0.5B smoke test (no preset either)
    by_id = {p.row.row_id: p for p in used}
    # Throughput only where the window is >= 120 s (r8: 182 s); TPOT on the closed-loop rows; TTFT everywhere.
    assert [p.row.row_id for p in used if "throughput" in p.measured] == ["r8"]
    assert sum("tpot" in p.measured for p in used) == 6 and all("ttft" in p.measured for p in used)
    assert sum("throughput" in p.reported for p in used) == 6
    # Each row runs at its measured median prompt (the note's `actual prompt median`), not the target.
    assert (by_id["r13"].row.input_len, by_id["r16"].row.input_len, by_id["r8"].row.input_len) == (522, 1272, 537)
    assert all(p.release == "2026.3" for p in used)


@needs_shared
def test_the_in_sample_fit_reproduces_the_shipped_values(points):
    used, _ = points
    fitted = rngd_fit.fit(used, load_params())
    shipped = load_params().hardware_values["rngd"]
    assert fitted.success
    assert fitted.values == pytest.approx(shipped, rel=1e-3)


@needs_shared
def test_the_shipped_values_give_the_recorded_in_sample_accuracy(points):
    used, _ = points
    params = load_params()
    report = rngd_fit.accuracy_report(used, rngd_fit.predict(used, params))
    assert report == params.provenance["rngd_fit"]["accuracy_on_fit_data"]
    # What the fit is for: the prefill probes within 10% and TPOT's median within 10%.
    probes = [p for p in used if p.row.output_len == 1]
    predicted = rngd_fit.predict(probes, params)["ttft"]
    assert np.max(np.abs(predicted / np.array([p.measured["ttft"] for p in probes]) - 1.0)) < 0.10
    assert report["all"]["tpot"]["median_abs_pct_error"] < 10.0


@needs_shared
@slow
def test_leave_one_row_out_meets_the_issue_targets_and_matches_the_recorded_figures(points):
    used, _ = points
    held_out = rngd_fit.accuracy_report(used, rngd_fit.leave_one_out(used, load_params()))
    for metric, target in rngd_fit.TARGETS_PCT.items():
        assert held_out["all"][metric]["median_abs_pct_error"] <= target, metric
    assert held_out == load_params().provenance["rngd_fit"]["leave_one_row_out"]


def test_the_fit_refuses_a_missing_file(tmp_path, capsys):
    assert rngd_fit.main([str(tmp_path / "absent.csv")]) == 2
    assert "absent.csv" in capsys.readouterr().err


def test_with_rngd_keeps_the_other_hardwares_entries():
    params = replace(load_params(), hardware_values={"x": {"step_overhead_s": 0.001}})
    both = rngd_fit.with_rngd(params, {"step_overhead_s": 0.003})
    assert both.hardware_values == {"x": {"step_overhead_s": 0.001}, "rngd": {"step_overhead_s": 0.003}}


def test_validate_prices_an_rngd_row_with_rngds_own_values(tmp_path):
    # `autotune validate` (regimes.predict) uses a device's own values for its rows and the shared ones elsewhere.
    from cost_models.measurements import REQUIRED_COLUMNS, read_measurements
    from cost_models.regimes import predict, prepare
    base = {c: "" for c in REQUIRED_COLUMNS} | {"model_id": "Qwen/Qwen3-4B", "dtype": "fp8", "tensor_parallel": "8",
                                                "pipeline_parallel": "1", "data_parallel": "1", "input_len": "1024",
                                                "output_len": "1", "batch_or_concurrency": "1",
                                                "load_type": "batch1_first_token_latency", "ttft_ms": "60"}
    rows = [base | {"row_id": "a", "hardware_id": "rngd"},
            base | {"row_id": "b", "hardware_id": "h100-sxm", "tensor_parallel": "1"}]
    path = tmp_path / "rows.csv"
    path.write_text(",".join(REQUIRED_COLUMNS) + "\n" + "".join(",".join(r[c] for c in REQUIRED_COLUMNS) + "\n"
                                                                  for r in rows))
    measured, skipped = read_measurements(path)
    assert not skipped
    params = load_params()
    shared = replace(params, hardware_values={})
    prepared = prepare(measured, params)
    own, plain = predict(prepared, params)["ttft"], predict(prepared, shared)["ttft"]
    assert own[0] == pytest.approx(predict(prepared, params.for_hardware("rngd"))["ttft"][0])
    assert own[0] > 1.2 * plain[0]  # RNGD's prefill efficiency (0.35) is below the GPUs' (0.55)
    assert own[1] == plain[1]


def test_a_gpu_refit_keeps_rngds_values_and_their_source():
    from cost_models.calibration import fitted_sources
    params = load_params()
    sources = fitted_sources(params, ("step_overhead_s", "layer_overhead_s"), "x.csv")
    assert sources["step_overhead_s"].startswith("fitted by autotune calibrate on x.csv")
    assert "; rngd: fitted by cost_models.rngd_fit" in sources["step_overhead_s"]
    assert "rngd" not in sources["layer_overhead_s"]
    assert params.with_values(step_overhead_s=0.001).hardware_values == params.hardware_values


def test_the_fit_refuses_a_file_without_the_measurement_columns(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("row_id,model_id\nr1,x\n")
    assert rngd_fit.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.csv" in err
