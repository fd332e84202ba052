"""Sweeps: point order, parallel equals serial, the progress bar only on a terminal."""
from __future__ import annotations

import io

from autotune import api
from autotune.solver.sweeps import ProgressBar, stderr_progress


def test_points_run_model_dtype_length_then_cards():
    result = api.sweep(["llama-3.2-1b", "llama-3.1-8b"], "h100-sxm", cards=[1, 2], input_lens=[512, 1024],
                       space="gpu")
    coords = [(p.model, p.input_len, p.cards) for p in result.points]
    assert coords == [("llama-3.2-1b", 512, 1), ("llama-3.2-1b", 512, 2), ("llama-3.2-1b", 1024, 1),
                      ("llama-3.2-1b", 1024, 2), ("llama-3.1-8b", 512, 1), ("llama-3.1-8b", 512, 2),
                      ("llama-3.1-8b", 1024, 1), ("llama-3.1-8b", 1024, 2)]
    assert all(p.status == "OPTIMAL" and p.recommendation.plan.cards_used <= p.cards for p in result.points)


def test_each_point_equals_its_own_recommend():
    result = api.sweep("llama-3.1-70b", "rngd", cards="3..5", space="furiosa-2025.3")
    for point in result.points:
        alone = api.recommend("llama-3.1-70b", "rngd", cards=point.cards, space="furiosa-2025.3")
        assert point.status == alone.status
        assert (point.recommendation.plan if point.recommendation else None) == \
            (alone.recommendations[0].plan if alone.recommendations else None)


def test_parallel_jobs_give_the_same_points_in_the_same_order():
    serial = api.sweep("llama-3.1-8b", "rngd", cards="1..4")
    parallel = api.sweep("llama-3.1-8b", "rngd", cards="1..4", jobs=2)
    assert serial.to_dict() == parallel.to_dict()


def test_progress_is_reported_for_every_point():
    seen = []
    api.sweep("llama-3.2-1b", "rngd", cards=[1, 2, 3], progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_progress_bar_draws_in_place_and_erases_itself():
    stream = io.StringIO()
    bar = ProgressBar("sweep", stream)
    bar(1, 2)
    bar(2, 2)
    text = stream.getvalue()
    assert "1/2" in text and "2/2" in text and "\n" not in text and text.endswith("\r")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_when_stdout_and_stderr_are_terminals(monkeypatch):
    monkeypatch.setattr("sys.stderr", _Terminal())
    monkeypatch.setattr("sys.stdout", _Terminal())
    assert isinstance(stderr_progress("sweep"), ProgressBar)
    monkeypatch.setattr("sys.stdout", io.StringIO())  # output piped
    assert stderr_progress("sweep") is None
    monkeypatch.setattr("sys.stdout", _Terminal())
    monkeypatch.setattr("sys.stderr", io.StringIO())  # stderr redirected
    assert stderr_progress("sweep") is None
