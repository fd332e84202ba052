"""`autotune validate`: the cost model's predictions against a measurement CSV, without refitting.

The CSV has the calibration file's columns. Exit 0 when at least one row was usable, 2 for
bad input (a missing file or column).
"""
from __future__ import annotations

import argparse
import json

from autotune.errors import EXIT_OK, InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--measurements", required=True, metavar="CSV",
                        help="measurements with the columns of cost_models/data/calibration.csv")
    parser.add_argument("--params", default=None, metavar="FILE.yaml",
                        help="cost-model parameters; omitted: the shipped, fitted ones")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document")


def run(args: argparse.Namespace) -> int:
    from cost_models.measurements import read_measurements
    from cost_models.params import load_params
    from cost_models.validation import validate

    rows, skipped = read_measurements(args.measurements)
    if not rows:
        raise InputError(source=args.measurements, has_value=False,
                         expected=f"at least one usable row ({len(skipped)} skipped: "
                                  f"{skipped[0].reason if skipped else 'the file has no rows'})")
    report = validate(rows, skipped, load_params(args.params))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return EXIT_OK


def _cell(summary: dict) -> str:
    if not summary["n"]:
        return f"{'-':>5}{'-':>9}{'-':>9}"
    return f"{summary['n']:>5}{summary['median_abs_pct_error']:>8.1f}%{summary['p90_abs_pct_error']:>8.1f}%"


def render(report: dict) -> str:
    """Returns the human table: n, median and p90 absolute % error per metric, overall and per hardware."""
    metrics = ("throughput", "ttft", "tpot")
    lines = [f"rows used {report['rows_used']}, skipped {report['rows_skipped']}"]
    lines += [f"  skipped {n} x {reason}"[:100] for reason, n in report["skipped_reasons"].items()]
    lines += ["", f"{'':<14}" + "".join(f"  {m:^23}" for m in metrics) + f"{'spearman':>10}",
              f"{'hardware':<14}" + "".join(f"  {'n':>5}{'median':>9}{'p90':>9}" for _ in metrics) + f"{'rho':>10}"]

    def line(name: str, entry: dict) -> str:
        rho = entry["spearman_within_groups"]
        cells = "".join(f"  {_cell(entry[m])}" for m in metrics)
        return f"{name[:14]:<14}{cells}{'-' if rho is None else format(rho, '.3f'):>10}"

    lines.append(line("all", report))
    for name, entry in report["by_hardware"].items():
        lines.append(line(name, entry))
    lines += ["", "error = |predicted - measured| / measured; rho = mean Spearman rank correlation of",
              "throughput within groups of 3+ configurations (same model, hardware, dtype, lengths)"]
    return "\n".join(lines)
