"""Plots: real PNG and SVG files from the real API, deterministic bytes, readable labels, clean errors."""
from __future__ import annotations

import importlib
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from autotune import api
from autotune.outputs import plots  # noqa: E402
from autotune.errors import InputError  # noqa: E402
from autotune.results import Recommendation, SweepPoint, SweepResult  # noqa: E402

# The sweep module is `autotune.solver.sweeps` (renamed so that `autotune.sweep` stays the API function); loading it
# first is harmless.
importlib.import_module("autotune.solver.sweeps")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def front():
    return api.pareto("llama-3.1-8b", "rngd", cards=2)


@pytest.fixture(scope="module")
def candidates():
    return api.enumerate_candidates("llama-3.1-8b", "rngd", cards=2).candidates


@pytest.fixture(scope="module")
def swept():
    # 70B on 1..4 RNGD cards: 1-3 cards cannot hold the weights, 4 can; so both kinds of point appear.
    return api.sweep(["llama-3.1-8b", "llama-3.1-70b"], "rngd", cards=[1, 2, 4])


def png_size(path: Path) -> tuple[int, int]:
    """Returns (width, height) from the IHDR chunk, checking the signature and chunk order."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    assert data[-8:-4] == b"IEND"
    return width, height


def svg_root(path: Path) -> ET.Element:
    root = ET.fromstring(path.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def test_pareto_png_is_a_valid_image_of_the_fixed_size(front, candidates, tmp_path):
    out = plots.pareto_plot(front, tmp_path / "front.png", others=candidates)
    assert out == tmp_path / "front.png"
    assert png_size(out) == (int(plots.FIGURE_SIZE_IN[0] * plots.DPI), int(plots.FIGURE_SIZE_IN[1] * plots.DPI))


def test_pareto_svg_parses_and_names_every_run_of_the_front(front, candidates, tmp_path):
    out = plots.pareto_plot(front, tmp_path / "front.svg", others=candidates)
    svg_root(out)
    text = out.read_text()
    # Text drawn as paths keeps its string in a comment: every frontier label and both axis units are there.
    ordered = sorted(front.points, key=lambda r: r.metrics["tpot_ms"])
    for first, last in plots.layout_runs(ordered):
        assert f"<!-- {plots.run_label(ordered[first:last + 1])} -->" in text
    assert "TPOT, ms per output token" in text and "output tokens/s, all replicas" in text
    assert "llama-3.1-8b on 2 rngd cards" in text


def test_svg_and_png_bytes_are_identical_for_identical_input(front, candidates, tmp_path):
    for suffix in (".svg", ".png"):
        first = plots.pareto_plot(front, tmp_path / f"a{suffix}", others=candidates).read_bytes()
        second = plots.pareto_plot(front, tmp_path / f"b{suffix}", others=candidates).read_bytes()
        assert first == second, suffix
    svg = (tmp_path / "a.svg").read_text()
    assert "<dc:date>" not in svg  # no timestamp


def test_frontier_labels_do_not_overlap_and_stay_inside_the_axes(front, candidates):
    fig = plots.pareto_figure(front, others=candidates)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    from matplotlib.text import Text
    boxes = []
    for label in ax.texts:
        label.update_positions(renderer)
        boxes.append(Text.get_window_extent(label, renderer))
    ordered = sorted(front.points, key=lambda r: r.metrics["tpot_ms"])
    expected = [plots.run_label(ordered[a:b + 1]) for a, b in plots.layout_runs(ordered)]
    assert sorted(t.get_text() for t in ax.texts) == sorted(expected)
    frame = ax.get_window_extent(renderer)
    for i, a in enumerate(boxes):
        assert frame.x0 <= a.x0 and a.x1 <= frame.x1 and frame.y0 <= a.y0 and a.y1 <= frame.y1
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (ax.texts[i].get_text(), a, b)
    assert ax.get_xlabel().startswith("TPOT, ms") and "tokens/s" in ax.get_ylabel()


def test_dominated_candidates_are_drawn_faded_and_infeasible_ones_left_out(front, candidates):
    fig = plots.pareto_figure(front, others=candidates)
    ax = fig.axes[0]
    faded = [c for c in ax.collections if c.get_label().startswith("other feasible")]
    assert len(faded) == 1
    feasible = [c for c in candidates if c.metrics["feasible"]]
    assert len(feasible) < len(candidates)  # the fixture has both kinds
    on_front = {p.plan for p in front.points}
    others = [c for c in feasible if c.plan not in on_front]
    assert len(others) < len(feasible)  # the enumerate listing holds the front's own points too
    assert len(faded[0].get_offsets()) == len(others)
    assert faded[0].get_alpha() < 0.5


def test_legend_counts_only_the_configurations_off_the_front(front, candidates):
    # The front's points are drawn (and counted) as the front; the faded cloud and its count are the rest.
    fig = plots.pareto_figure(front, others=candidates)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    on_front = {p.plan for p in front.points}
    rest = sum(1 for c in candidates if c.metrics["feasible"] and c.plan not in on_front)
    assert f"other feasible configurations ({rest})" in labels
    assert f"Pareto front ({len(front.points)} configurations, {front.status})" in labels


def test_a_listing_of_only_the_front_draws_no_other_configurations(front):
    fig = plots.pareto_figure(front, others=front.points)
    assert not [c for c in fig.axes[0].collections if c.get_label().startswith("other feasible")]


def test_user_card_axes_plot_per_user_speed_against_per_card_throughput(candidates, tmp_path):
    front = api.pareto("llama-3.1-8b", "rngd", cards=2, axes="user-card")
    fig = plots.pareto_figure(front, others=candidates)
    ax = fig.axes[0]
    assert "tokens/s per user = 1000 / TPOT ms" in ax.get_xlabel()
    assert "tokens/s per card" in ax.get_ylabel()
    front_points = [c for c in ax.collections if c.get_label().startswith("Pareto front")][0].get_offsets()
    expected = sorted((1e3 / p.metrics["tpot_ms"], p.metrics["throughput_tokens_per_s_per_device"])
                      for p in front.points)
    drawn = [float(v) for xy in front_points for v in xy]
    assert drawn == pytest.approx([v for xy in expected for v in xy])
    assert png_size(plots.pareto_plot(front, tmp_path / "uc.png", others=candidates))[0] > 0


def test_an_infeasible_front_still_renders_with_the_reason(tmp_path):
    front = api.pareto("llama-3.1-70b", "rngd", cards=1)
    assert not front.points
    out = plots.pareto_plot(front, tmp_path / "none.svg")
    text = out.read_text()
    svg_root(out)
    assert "No configuration fits" in " ".join(text.split())


def test_sweep_png_and_svg_render(swept, tmp_path):
    assert png_size(plots.sweep_plot(swept, tmp_path / "sweep.png", hardware="rngd", device_name="card")) == \
        (int(plots.FIGURE_SIZE_IN[0] * plots.DPI), int(plots.FIGURE_SIZE_IN[1] * plots.DPI))
    out = plots.sweep_plot(swept, tmp_path / "sweep.svg", hardware="rngd", device_name="card")
    svg_root(out)
    again = plots.sweep_plot(swept, tmp_path / "again.svg", hardware="rngd", device_name="card")
    assert out.read_bytes() == again.read_bytes()


def test_sweep_draws_one_line_per_series_and_marks_infeasible_points(swept):
    fig = plots.sweep_figure(swept, hardware="rngd", device_name="card")
    ax_total, ax_lat, ax_per = fig.axes[0], fig.axes[2], fig.axes[1]
    assert ax_per.get_ylabel().startswith("tokens/s per card")
    assert ax_lat.get_xlabel() == "cards" and "latency ms" in ax_lat.get_ylabel()
    # Throughput lines: one per model; NaN where no configuration fits (the line breaks there).
    lines = [line for line in ax_total.get_lines() if not (line.get_gid() or "").startswith("no-fit")]
    assert len(lines) == 2
    by_model = {p.model: [] for p in swept.points}
    for p in swept.points:
        by_model[p.model].append(p)
    big = by_model["llama-3.1-70b"]
    assert any(p.recommendation is None for p in big) and any(p.recommendation is not None for p in big)
    line_70b = lines[1]
    ys = list(line_70b.get_ydata())
    for p, y in zip(sorted(big, key=lambda p: p.cards), ys):
        if p.recommendation is None:
            assert y != y  # NaN
        else:
            assert y == pytest.approx(p.recommendation.metrics["throughput_tokens_per_s"])
    crosses = [line for line in ax_total.get_lines() if (line.get_gid() or "").startswith("no-fit")]
    missing = sorted(p.cards for p in swept.points if p.recommendation is None)
    assert sorted(float(x) for line in crosses for x in line.get_xdata()) == missing
    notes = " ".join(t.get_text() for t in fig.texts)
    infeasible = sum(p.recommendation is None for p in swept.points)
    assert f"no configuration fits ({infeasible} of {len(swept.points)} points" in notes
    # Two models: each gets a key entry; the title keeps what does not vary.
    legend_text = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "llama-3.1-8b" in legend_text and "llama-3.1-70b" in legend_text
    assert "weights bf16" in fig._suptitle.get_text()


def test_sweep_hollow_marks_points_not_proven(tmp_path):
    best = api.recommend("llama-3.1-8b", "rngd", cards=1).recommendations[0]
    result = SweepResult(objective="throughput", points=(
        SweepPoint(cards=1, model="m", dtype="bf16", input_len=2048, status="FEASIBLE", recommendation=best),
        SweepPoint(cards=2, model="m", dtype="bf16", input_len=2048, status="OPTIMAL", recommendation=best),
    ))
    fig = plots.sweep_figure(result)
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "hollow: best found within the time limit, not proven optimal (1 point)" in notes


def test_wrong_suffix_is_bad_input_naming_the_flag(front, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"^--plot: got 'front\.pdf'; expected a file name ending in "
                                         r"\.png or \.svg$"):
        plots.pareto_plot(front, "front.pdf")
    assert not (tmp_path / "front.pdf").exists()


def test_missing_directory_is_bad_input(front, tmp_path):
    with pytest.raises(InputError, match="expected a file in an existing directory"):
        plots.pareto_plot(front, tmp_path / "absent" / "front.png")


def test_missing_matplotlib_is_one_line_with_the_install_hint(front, swept, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as caught:
        plots.pareto_plot(front, "front.png")
    message = str(caught.value)
    # "autotune" on PyPI is an unrelated project: the hint installs the extra from the checkout.
    assert message == ("--plot: got 'front.png'; expected matplotlib installed: pip install \".[plot]\" from the "
                       "checkout, or pip install matplotlib")
    assert "autotune[plot]" not in message
    assert "\n" not in message and caught.value.exit_code == 2
    with pytest.raises(InputError, match=r'pip install "\.\[plot\]"'):
        plots.sweep_plot(swept, tmp_path / "sweep.svg")
    assert not (tmp_path / "front.png").exists()


def test_importing_plots_does_not_import_matplotlib():
    import subprocess
    code = "import sys, autotune.outputs.plots; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_config_label_and_axis_values(front):
    point: Recommendation = front.points[0]
    p = point.plan
    assert plots.config_label(point) == (f"TP{p.tensor_parallel_size} PP{p.pipeline_parallel_size} "
                                         f"DP{p.data_parallel_size} b{p.batch_size}")
    assert plots.axis_value(point, "tokens_per_s_per_user") == pytest.approx(1e3 / point.metrics["tpot_ms"])
    assert plots.axis_value(point, "tpot_ms") == point.metrics["tpot_ms"]


def test_plotting_leaves_the_callers_matplotlib_settings_alone(front, tmp_path):
    import matplotlib
    before = (matplotlib.rcParams["svg.hashsalt"], matplotlib.rcParams["font.size"], matplotlib.get_backend())
    plots.pareto_plot(front, tmp_path / "front.svg")
    assert (matplotlib.rcParams["svg.hashsalt"], matplotlib.rcParams["font.size"],
            matplotlib.get_backend()) == before


def test_plots_on_unfitted_hardware_say_the_efficiencies_were_fitted_on_other_hardware(front):
    # No TPU measurements and no TPU efficiency of its own: the figures extrapolate a GPU fit (issue 8, 3.13).
    tpu = api.pareto("llama-3.2-1b", "tpu-v5e", cards=1)
    title = " ".join(plots.pareto_figure(tpu)._suptitle.get_text().split())
    assert "efficiencies fitted on other hardware, no tpu-v5e fit yet" in title
    # RNGD has its own fit (cost_models.rngd_fit), as the GPUs do.
    assert "fit yet" not in plots.pareto_figure(front)._suptitle.get_text()
    gpu = api.pareto("llama-3.1-8b", "h100-sxm", cards=1)
    assert "fit yet" not in plots.pareto_figure(gpu)._suptitle.get_text()


def test_a_run_of_one_layout_gets_one_label(front):
    ordered = sorted(front.points, key=lambda r: r.metrics["tpot_ms"])
    runs = plots.layout_runs(ordered)
    assert runs[0][0] == 0 and runs[-1][1] == len(ordered) - 1
    assert all(b + 1 == c for (_, b), (c, _) in zip(runs, runs[1:]))  # runs tile the front
    first, last = runs[0]
    if last > first:
        assert plots.run_label(ordered[first:last + 1]).endswith(
            f"b{ordered[first].plan.batch_size}-{ordered[last].plan.batch_size}")
