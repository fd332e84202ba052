"""Traffic: arrival processes, length samples, histograms and traces."""
from __future__ import annotations

import numpy as np
import pytest

from autotune import Workload, simulate
from autotune.errors import InputError
from cost_models.serving.traffic import Lengths, Traffic, fixed_lengths, load_lengths, load_trace, open_arrivals_s


def test_poisson_and_gamma_arrivals_have_the_rate_and_burstiness_asked():
    rng = np.random.default_rng(0)
    poisson = open_arrivals_s(Traffic(requests=20000, lengths=fixed_lengths(1, 1), rate_per_s=4.0), rng)
    gaps = np.diff(poisson)
    assert gaps.mean() == pytest.approx(0.25, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)
    bursty = open_arrivals_s(Traffic(requests=20000, lengths=fixed_lengths(1, 1), rate_per_s=4.0, arrival="gamma",
                                     cv=3.0), rng)
    gaps = np.diff(bursty)
    assert gaps.mean() == pytest.approx(0.25, rel=0.1)
    assert gaps.std() / gaps.mean() == pytest.approx(3.0, rel=0.1)


def test_histogram_weights_set_the_draw_frequencies(tmp_path):
    path = tmp_path / "hist.csv"
    path.write_text("input_len,output_len,count\n100,10,3\n1000,50,1\n")
    lengths = load_lengths(path)
    inputs, outputs = lengths.sample(8000, np.random.default_rng(1))
    assert np.mean(inputs == 100) == pytest.approx(0.75, abs=0.02)
    assert set(outputs.tolist()) == {10, 50}


def test_jsonl_sample_and_bad_rows(tmp_path):
    good = tmp_path / "lengths.jsonl"
    good.write_text('{"input_len": 10, "output_len": 5}\n{"input_len": 20, "output_len": 7}\n')
    assert load_lengths(good) == Lengths(input_len=(10, 20), output_len=(5, 7), weight=())
    bad = tmp_path / "bad.csv"
    bad.write_text("input_len,output_len\n10,-3\n")
    with pytest.raises(InputError, match="row 1: output_len"):
        load_lengths(bad)


def test_a_trace_replays_its_timestamps_and_lengths(tmp_path):
    path = tmp_path / "trace.csv"
    rows = ["timestamp_s,input_len,output_len"] + [f"{0.5 * i + 10},{200 + i},{20}" for i in range(40)]
    path.write_text("\n".join(rows) + "\n")
    times, lengths = load_trace(path)
    assert times[0] == 10.0 and lengths.input_len[3] == 203
    result = simulate("llama-3.1-8b", "h100-sxm", Workload(), tp=1, trace_file=path)
    assert result.requests == 36  # 40 minus the 10% warm-up
    assert result.requests_per_s == pytest.approx(2.0, rel=0.1)  # one request every 0.5 s
