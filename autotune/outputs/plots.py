"""Plots of a Pareto front and of a sweep, as PNG or SVG files (matplotlib, the optional extra `plot`).

matplotlib is imported inside the functions, never at module import, so that the rest of the tool
runs without it; a missing matplotlib is bad input for `--plot` (exit 2) with the install line.
Figures are drawn with the Agg canvas (no display, no pyplot global state) under matplotlib's default
style, a fixed size and dpi, a fixed SVG hash salt and no date stamp: the same result gives the same bytes.
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autotune.errors import InputError
from autotune.results import Assumptions, ParetoResult, Recommendation, SweepPoint, SweepResult
from cost_models.params import fitted_on

#: File formats by suffix; anything else is refused before any drawing.
FORMATS = {".png": "png", ".svg": "svg"}
FIGURE_SIZE_IN = (9.0, 6.0)
DPI = 150
#: Salt of the SVG element ids, fixed so that SVG files are byte-identical across runs.
SVG_HASH_SALT = "autotune"
#: From the checkout: the PyPI project named "autotune" is someone else's, so the hint never names it.
INSTALL_HINT = 'matplotlib installed: pip install ".[plot]" from the checkout, or pip install matplotlib'
LABEL_FONT_PT = 7.0
#: Title characters per line at 9.5 pt on a 9-inch figure.
TITLE_WRAP = 100
_STATUS_NOT_PROVEN = "FEASIBLE"


def pareto_plot(result: ParetoResult, path: str | Path, *, others: Sequence[Recommendation] = (),
                source: str = "--plot") -> Path:
    """Returns the path of the written Pareto plot: the front, `others` faded behind it, each point labelled.

    `others` are further configurations (for example the feasible rows of enumerate); infeasible
    ones and the front's own points (same plan) are skipped, so the legend counts only the rest. Axes follow `result.axes`: TPOT (ms) against output tokens/s over all replicas,
    or tokens/s per user against tokens/s per device.
    """
    target, fmt = output_path(path, source=source)
    mpl = _matplotlib(source, target)
    with _style(mpl):
        fig = _draw_pareto(result, others)
        _save(fig, target, fmt, source)
    return target


def pareto_figure(result: ParetoResult, *, others: Sequence[Recommendation] = ()) -> Any:
    """Returns the matplotlib Figure `pareto_plot` saves (to restyle or embed it)."""
    with _style(_matplotlib("pareto_figure")):
        return _draw_pareto(result, others)


def _draw_pareto(result: ParetoResult, others: Sequence[Recommendation]) -> Any:
    from matplotlib.figure import Figure

    x_key, y_key = result.axes
    x_label, y_label = _axis_labels(result.axes, result.assumptions)
    fig = Figure(figsize=FIGURE_SIZE_IN, dpi=DPI)
    canvas = _canvas(fig)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.1, top=0.84)
    ax = fig.add_subplot(1, 1, 1)
    # The front's own points are drawn (and counted) as the front: the faded cloud is everything else.
    on_front = {r.plan for r in result.points}
    background = [r for r in others if r.metrics.get("feasible", True) and r.plan not in on_front]
    if background:
        ax.scatter([axis_value(r, x_key) for r in background], [axis_value(r, y_key) for r in background],
                   s=12, color="0.55", alpha=0.3, linewidths=0, zorder=1,
                   label=f"other feasible configurations ({len(background)})")
    points = sorted(result.points, key=lambda r: axis_value(r, x_key))
    xs = [axis_value(r, x_key) for r in points]
    ys = [axis_value(r, y_key) for r in points]
    if points:
        # The attainable front is a staircase: a latency budget buys the best throughput at or below it.
        where = "post" if _lower_is_better(x_key) else "pre"
        ax.step(xs, ys, where=where, color="tab:blue", linewidth=1.2, alpha=0.6, zorder=2)
        ax.scatter(xs, ys, s=30, color="tab:blue", zorder=3, edgecolors="white", linewidths=0.6,
                   label=f"Pareto front ({len(points)} configurations, {result.status})")
    else:
        reason = result.reasons[0] if result.reasons else "the solver found none"
        ax.text(0.5, 0.5, "\n".join(textwrap.wrap(f"No configuration fits ({result.status}): {reason}", 70)),
                transform=ax.transAxes, ha="center", va="center", fontsize=9)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.margins(x=0.1, y=0.12)
    if _has_data(xs, background):
        ax.set_ylim(bottom=0)
    # Freeze the limits before measuring labels: placement works in display coordinates.
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())
    legend = ax.legend(loc="best", fontsize=8, frameon=True) if points or background else None
    fig.suptitle(_pareto_title(result), fontsize=9.5, x=0.5, y=0.98, va="top")
    runs = layout_runs(points)
    _place_labels(fig, canvas, ax, [xs[last] for _, last in runs], [ys[last] for _, last in runs],
                  [run_label(points[first:last + 1]) for first, last in runs], avoid=legend)
    return fig


def layout_runs(points: Sequence[Recommendation]) -> list[tuple[int, int]]:
    """Returns (first, last) index pairs of the runs of consecutive points with one layout (TP, PP, DP, EP, ADP).

    With every integer batch a point, a front holds dozens of batches of one layout in a row: one
    label per run keeps the plot readable.
    """
    def layout(r: Recommendation) -> tuple[int, int, int, int, int]:
        p = r.plan
        return p.tensor_parallel_size, p.pipeline_parallel_size, p.data_parallel_size, p.ep, p.adp

    runs: list[tuple[int, int]] = []
    for i, point in enumerate(points):
        if runs and layout(points[runs[-1][1]]) == layout(point):
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def run_label(run: Sequence[Recommendation]) -> str:
    """Returns the label of a run of one layout: 'TP8 PP1 DP4 b64', or 'TP8 PP1 DP4 b1-24' for several batches."""
    if len(run) == 1:
        return config_label(run[0])
    batches = sorted(r.plan.batch_size for r in run)
    return config_label(run[0]).rsplit(" b", 1)[0] + f" b{batches[0]}-{batches[-1]}"


def sweep_plot(result: SweepResult, path: str | Path, *, hardware: str | None = None,
               device_name: str = "device", source: str = "--plot") -> Path:
    """Returns the path of the written sweep plot: throughput (total and per device) and latency against cards.

    One line per series (model, dtype, input length); infeasible points are left out of the lines and
    marked with x on the cards axis; points the time limit stopped before proof are drawn hollow.
    `hardware` and `device_name` ("card", "GPU") only word the title and axes.
    """
    target, fmt = output_path(path, source=source)
    mpl = _matplotlib(source, target)
    with _style(mpl):
        fig = _draw_sweep(result, hardware=hardware, device_name=device_name)
        _save(fig, target, fmt, source)
    return target


def sweep_figure(result: SweepResult, *, hardware: str | None = None, device_name: str = "device") -> Any:
    """Returns the matplotlib Figure `sweep_plot` saves (to restyle or embed it)."""
    with _style(_matplotlib("sweep_figure")):
        return _draw_sweep(result, hardware=hardware, device_name=device_name)


def _draw_sweep(result: SweepResult, *, hardware: str | None, device_name: str) -> Any:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import LogFormatter

    groups = sweep_series(result.points)
    varying = _varying_fields(result.points)
    all_cards = sorted({p.cards for p in result.points})
    fig = Figure(figsize=FIGURE_SIZE_IN, dpi=DPI)
    _canvas(fig)
    ax_total = fig.add_subplot(2, 1, 1)
    ax_per = ax_total.twinx()
    ax_lat = fig.add_subplot(2, 1, 2, sharex=ax_total)
    colors = [f"C{i % 10}" for i in range(len(groups))]
    latencies: list[float] = []
    infeasible = 0
    not_proven = 0
    series_handles = []
    for (key, points), color in zip(groups.items(), colors):
        fits = [p for p in points if p.recommendation is not None]
        infeasible += len(points) - len(fits)
        cards = [p.cards for p in points]
        # NaN where nothing fits, so that a line breaks there instead of bridging the gap.
        metric = lambda name: [math.nan if p.recommendation is None  # noqa: E731
                               else float(p.recommendation.metrics[name]) for p in points]
        faces = ["white" if p.status == _STATUS_NOT_PROVEN else color for p in points]
        not_proven += sum(p.status == _STATUS_NOT_PROVEN for p in fits)
        total, per, tpot, ttft = (metric("throughput_tokens_per_s"),
                                  metric("throughput_tokens_per_s_per_device"), metric("tpot_ms"),
                                  metric("ttft_ms"))
        latencies += [v for v in tpot + ttft if not math.isnan(v)]
        _line(ax_total, cards, total, color, "-", "o", faces)
        _line(ax_per, cards, per, color, "--", "s", faces)
        _line(ax_lat, cards, tpot, color, "-", "o", faces)
        _line(ax_lat, cards, ttft, color, "--", "^", faces)
        missing = [p.cards for p in points if p.recommendation is None]
        if missing:
            # x data, y in axes fraction: the mark sits on the cards axis whatever the throughput scale.
            ax_total.plot(missing, [0.03] * len(missing), linestyle="none", marker="x", color=color,
                          markersize=6, zorder=4, transform=ax_total.get_xaxis_transform(), clip_on=False,
                          scaley=False, gid=f"no-fit-{len(series_handles)}")
        series_handles.append(Line2D([], [], color=color, linewidth=2, label=_series_label(key, varying)))
    dev = device_name
    ax_total.set_ylabel("total output tokens/s\n(solid)", fontsize=8.5)
    ax_per.set_ylabel(f"tokens/s per {dev}\n(dashed)", fontsize=8.5)
    ax_lat.set_ylabel("latency ms\n(TPOT solid, TTFT dashed)", fontsize=8.5)
    ax_lat.set_xlabel(f"{dev}s")
    for ax in (ax_total, ax_per):
        # From zero to 12% above the highest point, so no line sits on the frame.
        top = ax.dataLim.y1 if ax.dataLim.y1 > 0 else 1.0
        ax.set_ylim(0, top * 1.12)
    if latencies and min(latencies) > 0 and max(latencies) / min(latencies) > 20:
        ax_lat.set_yscale("log")
        # Plain numbers ("300", not "3 x 10^2"): readers compare milliseconds, not exponents.
        ax_lat.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.4)))
        ax_lat.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.4)))
        ax_lat.set_ylabel("latency ms, log scale\n(TPOT solid, TTFT dashed)", fontsize=8.5)
    _cards_axis(ax_lat, all_cards)
    ax_total.tick_params(labelbottom=False)
    for ax in (ax_total, ax_lat):
        ax.grid(True, linewidth=0.4, alpha=0.5)
    style_handles = [Line2D([], [], color="0.2", linestyle="-", marker="o", label="total tokens/s"),
                     Line2D([], [], color="0.2", linestyle="--", marker="s", label=f"tokens/s per {dev}")]
    handles = (series_handles if len(series_handles) > 1 else []) + style_handles
    # The key sits above the panels, where it cannot hide a point; the axes start below its rows.
    columns = min(4, len(handles))
    rows = math.ceil(len(handles) / columns)
    top = 0.875 - 0.035 * rows
    fig.subplots_adjust(left=0.1, right=0.88, bottom=0.14, top=top, hspace=0.12)
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, top + 0.01), ncol=columns,
               fontsize=7.5, frameon=False)
    ax_lat.legend(handles=[Line2D([], [], color="0.2", linestyle="-", marker="o", label="TPOT"),
                           Line2D([], [], color="0.2", linestyle="--", marker="^", label="TTFT")],
                  loc="best", fontsize=7.5, frameon=True)
    fig.suptitle(_sweep_title(result, groups, varying, hardware, dev), fontsize=9.5, y=0.98, va="top")
    notes = []
    if infeasible:
        notes.append(f"x on the {dev}s axis: no configuration fits ({infeasible} of {len(result.points)} "
                     "points, left out of the lines)")
    if not_proven:
        notes.append(f"hollow: best found within the time limit, not proven optimal ({not_proven} "
                     f"point{'' if not_proven == 1 else 's'})")
    if not result.points:
        notes.append("the sweep has no points")
    if hardware and not fitted_on(hardware):
        notes.append(f"efficiencies fitted on other hardware, no {hardware} fit yet")
    if notes:
        fig.text(0.02, 0.015, "; ".join(notes), fontsize=7.5, ha="left", va="bottom")
    return fig


def output_path(path: str | Path, *, source: str = "--plot") -> tuple[Path, str]:
    """Returns (path, matplotlib format) for a .png or .svg file in an existing directory."""
    target = Path(path)
    fmt = FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise InputError(source=source, value=str(path),
                         expected="a file name ending in " + " or ".join(sorted(FORMATS)))
    if not target.parent.is_dir():
        raise InputError(source=source, value=str(path), expected="a file in an existing directory")
    return target, fmt


def config_label(r: Recommendation) -> str:
    """Returns the short label of a configuration: 'TP8 PP1 DP4 b64' ('TP8 PP1 DP1 EP8 ADP8 b64' with MoE degrees)."""
    p = r.plan
    moe = f"EP{p.ep} ADP{p.adp} " if p.ep != 1 or p.adp != 1 else ""
    return (f"TP{p.tensor_parallel_size} PP{p.pipeline_parallel_size} DP{p.data_parallel_size} {moe}"
            f"b{p.batch_size}")


def axis_value(r: Recommendation, key: str) -> float:
    """Returns the value of a Pareto axis for `r` (tokens_per_s_per_user is 1000 / TPOT ms)."""
    if key == "tokens_per_s_per_user":
        return 1e3 / float(r.metrics["tpot_ms"])
    return float(r.metrics[key])


def sweep_series(points: Sequence[SweepPoint]) -> dict[tuple[str, str, int], list[SweepPoint]]:
    """Returns the sweep points per (model, dtype, input length), in first-seen order, each sorted by cards."""
    groups: dict[tuple[str, str, int], list[SweepPoint]] = {}
    for p in points:
        groups.setdefault((p.model, p.dtype, p.input_len), []).append(p)
    return {key: sorted(group, key=lambda p: p.cards) for key, group in groups.items()}


# --- matplotlib plumbing ---------------------------------------------------------------------------------

def _matplotlib(source: str, target: Path | None = None) -> Any:
    """Returns the matplotlib module, or raises the install hint (exit 2) when it is absent."""
    try:
        import matplotlib
        import matplotlib.figure  # noqa: F401  (a broken install fails here, not halfway through a drawing)
    except ImportError:
        raise InputError(source=source, value=None if target is None else str(target), expected=INSTALL_HINT,
                         has_value=target is not None) from None
    return matplotlib


def _canvas(fig: Any) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    return FigureCanvasAgg(fig)


@contextmanager
def _style(mpl: Any) -> Iterator[None]:
    """Context: matplotlib's default style (a user's matplotlibrc must not change the bytes), fixed SVG salt."""
    import matplotlib.style

    with matplotlib.style.context("default"), \
            mpl.rc_context({"svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "path"}):
        yield


def _save(fig: Any, target: Path, fmt: str, source: str) -> None:
    # No date and no version stamp: the bytes depend on the result only (and matplotlib's renderer).
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    try:
        fig.savefig(target, format=fmt, dpi=DPI, metadata=metadata)
    except OSError as error:
        raise InputError(source=source, value=str(target),
                         expected=f"a writable file ({error.strerror or error})") from None


def _line(ax: Any, xs: list[int], ys: list[float], color: str, style: str, marker: str, faces: list[str]) -> None:
    kept = [(x, y, face) for x, y, face in zip(xs, ys, faces) if not math.isnan(y)]
    if not kept:
        return
    ax.plot(xs, ys, color=color, linestyle=style, linewidth=1.3, zorder=2)
    ax.scatter([k[0] for k in kept], [k[1] for k in kept], marker=marker, s=22, color=[k[2] for k in kept],
               edgecolors=color, linewidths=1.0, zorder=3)


def _cards_axis(ax: Any, cards: list[int]) -> None:
    """Log base 2 for wide ranges (1..64 reads as doublings); the sweep's own counts as ticks when few."""
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, MaxNLocator, NullLocator
    if not cards:
        return
    if cards[0] >= 1 and cards[-1] / cards[0] >= 16:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_minor_locator(NullLocator())
    if len(cards) <= 16:
        ax.xaxis.set_major_locator(FixedLocator(cards))
    elif ax.get_xscale() == "linear":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    low, high = cards[0], cards[-1]
    if ax.get_xscale() == "log":
        ax.set_xlim(low / 1.25, high * 1.25)
    else:
        pad = max((high - low) * 0.05, 0.5)
        ax.set_xlim(low - pad, high + pad)


def _has_data(xs: Sequence[float], background: Sequence[Recommendation]) -> bool:
    return bool(xs) or bool(background)


def _lower_is_better(key: str) -> bool:
    return key.endswith("_ms")


def _axis_labels(axes: tuple[str, str], a: Assumptions) -> tuple[str, str]:
    dev = a.device_name
    words = {
        "tpot_ms": "TPOT, ms per output token (lower is better)",
        "throughput_tokens_per_s": "output tokens/s, all replicas (higher is better)",
        "tokens_per_s_per_user": "tokens/s per user = 1000 / TPOT ms (higher is better)",
        "throughput_tokens_per_s_per_device": f"output tokens/s per {dev} (higher is better)",
    }
    return words.get(axes[0], axes[0]), words.get(axes[1], axes[1])


def assumptions_text(a: Assumptions) -> str:
    """Returns the assumptions in one sentence for a title (model, fleet, space, dtypes, lengths, batch, SLOs)."""
    slos = [f"{name} SLO {value:g} ms" for name, value in (("TTFT", a.ttft_ms), ("TPOT", a.tpot_ms))
            if value is not None]
    text = (f"{a.model} on {a.cards} {a.hardware} {a.device_name}{'s' if a.cards != 1 else ''} "
            f"(space {a.space}); weights {a.dtype}, KV {a.kv_dtype}; {a.input_len} in + {a.output_len} out "
            f"tokens; batch {a.batch}")
    text += ("; " + ", ".join(slos)) if slos else ""
    if a.calibration is not None and not a.calibration.hardware_fitted:
        text += f"; efficiencies fitted on other hardware, no {a.hardware} fit yet"
    return text


#: Short names of the Pareto axes for titles.
_AXIS_NAMES = {"tpot_ms": "TPOT", "throughput_tokens_per_s": "output tokens/s",
               "tokens_per_s_per_user": "tokens/s per user", "throughput_tokens_per_s_per_device": "tokens/s per "}


def _pareto_title(result: ParetoResult) -> str:
    a = result.assumptions
    names = [_AXIS_NAMES.get(key, key) for key in result.axes]
    names = [name + a.device_name if name.endswith("per ") else name for name in names]
    head = f"Pareto front: {names[0]} vs {names[1]} (solver status {result.status})"
    return "\n".join([head] + textwrap.wrap(assumptions_text(a), TITLE_WRAP))


def _varying_fields(points: Sequence[SweepPoint]) -> tuple[bool, bool, bool]:
    return (len({p.model for p in points}) > 1, len({p.dtype for p in points}) > 1,
            len({p.input_len for p in points}) > 1)


def _series_label(key: tuple[str, str, int], varying: tuple[bool, bool, bool]) -> str:
    model, dtype, length = key
    parts = [text for text, shown in ((model, varying[0]), (f"weights {dtype}", varying[1]),
                                      (f"input {length}", varying[2]))
             if shown]
    return " ".join(parts) or model


def _sweep_title(result: SweepResult, groups: dict[tuple[str, str, int], list[SweepPoint]],
                 varying: tuple[bool, bool, bool], hardware: str | None, dev: str) -> str:
    on = f" on {hardware}" if hardware else ""
    head = f"Sweep: best configuration for {result.objective} per number of {dev}s{on}"
    if not groups:
        return head
    model, dtype, length = next(iter(groups))
    fixed = [text for text, shown in ((model, not varying[0]), (f"weights {dtype}", not varying[1]),
                                      (f"{length} input tokens", not varying[2])) if shown]
    series = f"{len(groups)} series" if len(groups) > 1 else ""
    tail = "; ".join(fixed + ([series] if series else []))
    return "\n".join([head] + textwrap.wrap(tail, TITLE_WRAP))


# --- label placement -------------------------------------------------------------------------------------

Rect = tuple[float, float, float, float]
"""x0, y0, x1, y1 in display pixels."""

#: Candidate label offsets in points, tried in order: close first, then further out with a leader line.
_OFFSETS_PT = [(6, 6), (6, -6), (-6, 6), (-6, -6), (0, 10), (0, -10),
               (14, 16), (14, -16), (-14, 16), (-14, -16), (24, 4), (-24, 4), (24, -4), (-24, -4),
               (0, 26), (0, -26), (30, 24), (30, -24), (-30, 24), (-30, -24), (44, 0), (-44, 0),
               (0, 40), (0, -40), (44, 30), (44, -30), (-44, 30), (-44, -30), (60, 12), (60, -12)]
_LEADER_FROM_PT = 12.0
#: Covering a point hides data; touching another label only crowds: the first costs this much more.
_MARKER_WEIGHT = 10.0
#: A point this near a label (nearer than the label's own point, without a leader) makes it ambiguous.
_AMBIGUITY_PT = 6.0
_MARKER_HALF_PT = 4.0


def _place_labels(fig: Any, canvas: Any, ax: Any, xs: Sequence[float], ys: Sequence[float],
                  labels: Sequence[str], *, avoid: Any = None) -> None:
    """Labels each point at the first offset that costs nothing (the text overlaps no earlier label, no
    point, no legend, stays inside the axes, sits unambiguously by its own point, and its leader line
    crosses no earlier leader or label); when none is free, at the cheapest offset. Deterministic."""
    from matplotlib.text import Text

    if not labels:
        return
    renderer = canvas.get_renderer()
    px_per_pt = fig.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    frame_rect = (frame.x0, frame.y0, frame.x1, frame.y1)
    centres = [tuple(ax.transData.transform((x, y))) for x, y in zip(xs, ys)]
    half = _MARKER_HALF_PT * px_per_pt
    markers = [(cx - half, cy - half, cx + half, cy + half) for cx, cy in centres]
    obstacles: list[Rect] = []
    if avoid is not None:
        box = avoid.get_window_extent(renderer)
        obstacles.append((box.x0, box.y0, box.x1, box.y1))
    placed: list[Rect] = []
    leaders: list[tuple[tuple[float, float], tuple[float, float]]] = []
    for index, (x, y, text) in enumerate(zip(xs, ys, labels)):
        best_cost, best = math.inf, None
        for dx, dy in _OFFSETS_PT:
            annotation = _annotate(ax, x, y, text, dx, dy)
            annotation.update_positions(renderer)
            # The text alone: Annotation.get_window_extent would add the leader line's whole bounding box.
            box = Text.get_window_extent(annotation, renderer)
            rect = (box.x0, box.y0, box.x1, box.y1)
            leader = (centres[index], _nearest_on(rect, centres[index])) if _has_leader(dx, dy) else None
            cost = _label_cost(rect, leader, index, centres=centres, markers=markers, placed=placed,
                               obstacles=obstacles, leaders=leaders, frame=frame_rect,
                               ambiguity_px=_AMBIGUITY_PT * px_per_pt)
            if cost < best_cost:
                if best is not None:
                    best[0].remove()
                best_cost, best = cost, (annotation, rect, leader)
            else:
                annotation.remove()
            if cost == 0:
                break
        if best is not None:
            placed.append(best[1])
            if best[2] is not None:
                leaders.append(best[2])


def _label_cost(rect: Rect, leader: tuple[tuple[float, float], tuple[float, float]] | None, index: int, *,
                centres: Sequence[tuple[float, float]], markers: Sequence[Rect], placed: Sequence[Rect],
                obstacles: Sequence[Rect], leaders: Sequence[tuple[tuple[float, float], tuple[float, float]]],
                frame: Rect, ambiguity_px: float) -> float:
    """Returns the badness of a label at `rect` in square pixels (0: nothing in the way)."""
    cost = sum(_overlap(rect, other) for other in [*placed, *obstacles])
    cost += _MARKER_WEIGHT * sum(_overlap(rect, marker) for marker in markers)
    # Outside the axes counts double: a clipped label is worse than two touching ones.
    cost += 2.0 * (_area(rect) - _overlap(rect, frame))
    # With a leader line the line says which point; without one, proximity does.
    own = 0.0 if leader is not None else _distance(rect, centres[index])
    if any(_distance(rect, c) < own + ambiguity_px for i, c in enumerate(centres) if i != index):
        cost += _area(rect)
    if leader is not None:
        crossings = sum(_segments_cross(leader, other) for other in leaders)
        crossings += sum(_segment_hits(leader, other) for other in [*placed, *markers[:index],
                                                                     *markers[index + 1:]])
        cost += crossings * _area(rect)
    return cost


def _annotate(ax: Any, x: float, y: float, text: str, dx: float, dy: float) -> Any:
    return ax.annotate(text, xy=(x, y), xytext=(dx, dy), textcoords="offset points", fontsize=LABEL_FONT_PT,
                       ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
                       va="bottom" if dy > 0 else ("top" if dy < 0 else "center"),
                       color="0.1", zorder=2.5,  # under the markers: a label never hides a point
                       bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
                             "alpha": 0.75},
                       arrowprops=({"arrowstyle": "-", "color": "0.35", "linewidth": 0.6, "shrinkA": 0,
                                    "shrinkB": 2} if _has_leader(dx, dy) else None))


def _has_leader(dx: float, dy: float) -> bool:
    return math.hypot(dx, dy) >= _LEADER_FROM_PT


def _area(rect: Rect) -> float:
    return (rect[2] - rect[0]) * (rect[3] - rect[1])


def _overlap(a: Rect, b: Rect) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _nearest_on(rect: Rect, point: Sequence[float]) -> tuple[float, float]:
    return (min(max(point[0], rect[0]), rect[2]), min(max(point[1], rect[1]), rect[3]))


def _distance(rect: Rect, point: Sequence[float]) -> float:
    """Returns the distance in pixels from `point` to `rect` (0 inside)."""
    nx, ny = _nearest_on(rect, point)
    return math.hypot(point[0] - nx, point[1] - ny)


def _segments_cross(a: tuple[tuple[float, float], tuple[float, float]],
                    b: tuple[tuple[float, float], tuple[float, float]]) -> bool:
    def side(p: Sequence[float], q: Sequence[float], r: Sequence[float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    (p1, p2), (q1, q2) = a, b
    return (side(p1, p2, q1) * side(p1, p2, q2) < 0) and (side(q1, q2, p1) * side(q1, q2, p2) < 0)


def _segment_hits(segment: tuple[tuple[float, float], tuple[float, float]], rect: Rect) -> bool:
    """Returns whether the segment passes through the inside of `rect` (sampled: labels are large)."""
    (x0, y0), (x1, y1) = segment
    for step in range(1, 20):
        t = step / 20
        x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        if rect[0] < x < rect[2] and rect[1] < y < rect[3]:
            return True
    return False


def capacity_plot(result, path: str) -> Path:
    """Returns the path of the written plot: cards against the highest rate served, the plan marked."""
    target, fmt = output_path(path)
    mpl = _matplotlib("--plot", target)
    from matplotlib.figure import Figure

    a = result.assumptions
    with _style(mpl):
        fig = Figure(figsize=FIGURE_SIZE_IN)
        ax = fig.add_subplot()
        xs = [p.cards for p in result.capacity]
        ys = [p.rate_served for p in result.capacity]
        ax.step(xs + [max(xs[-1], result.cards or 0) + 1], ys + [ys[-1]], where="post", color="tab:blue",
                label="highest rate served within the SLOs")
        ax.scatter(xs, ys, color="tab:blue", s=18, zorder=3)
        for p in result.capacity:
            ax.annotate(f"{p.replicas}x" + p.label.replace(" ", ""), (p.cards, p.rate_served),
                        textcoords="offset points", xytext=(3, 4), fontsize=LABEL_FONT_PT)
        if result.rate is not None:
            ax.axhline(result.rate, color="tab:red", linestyle="--", linewidth=1.0,
                       label=f"rate {result.rate:g} requests/s")
        for rec in result.recommendations:
            ax.scatter([rec.cards_used], [rec.rate_served], marker="*", s=120, color="tab:red", zorder=4,
                       label=f"plan: {rec.replicas} x {rec.layout.label}, "
                             f"{rec.cards_used} {a.device_name}{'' if rec.cards_used == 1 else 's'}")
        ax.set_xlabel(f"{a.device_name}s")
        ax.set_ylabel("requests/s")
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        slos = ", ".join(f"{n} p{a.slo_percentile} <= {v:g} ms" for n, v in (("TTFT", a.ttft_ms),
                                                                              ("TPOT", a.tpot_ms)) if v is not None)
        ax.set_title(f"{a.model} on {a.hardware}, {a.engine} {a.release}: {a.lengths}; {slos or 'no SLOs'}",
                     fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        _save(fig, target, fmt, "--plot")
    return target
