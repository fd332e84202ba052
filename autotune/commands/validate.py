"""`autotune validate`: the cost model's predictions against measurement CSVs, in and out of sample.

The CSVs have the calibration file's columns; `builtin:calibration` and `builtin:extra` name
the shipped ones from any working directory. Without `--cross-validate` the given parameters
predict every row (in sample for rows they were fitted on). With it, the parameters are refitted
per fold by the documented fit chain without the fold's rows, and the fold is predicted (out of
sample). Exit 0 when at least one row was usable, 2 for bad input (a missing file or column).
"""
from __future__ import annotations

import argparse
import json
import textwrap

from autotune.errors import EXIT_OK, InputError

DEFAULT_FOLDS = 5
DEFAULT_SEED = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cost_models.measurements import BUILTIN_MEASUREMENTS, BUILTIN_PREFIX

    builtins = ", ".join(f"{BUILTIN_PREFIX}{k} ({v.name})" for k, v in BUILTIN_MEASUREMENTS.items())
    parser.add_argument("--measurements", required=True, metavar="CSV", action="append",
                        help="measurements with the columns of cost_models/data/calibration.csv, or a shipped "
                             f"file: {builtins}; repeat the flag to validate the union of several files")
    parser.add_argument("--params", default=None, metavar="FILE.yaml",
                        help="cost-model parameters (and the start of every cross-validation refit); "
                             "omitted: the file $AUTOTUNE_PARAMS names, else the shipped, fitted ones")
    parser.add_argument("--cross-validate", default=None, choices=("kfold", "hardware"),
                        help="out of sample: refit the parameters with the fit chain of docs/cost-model.md without "
                             "each fold's rows and predict the fold; kfold: folds of whole (model, hardware, dtype, "
                             "lengths) groups; hardware: leave one hardware preset out. The chain's efficiency step "
                             "reads builtin:calibration (and any file that is not a shipped one), its overhead and "
                             "4-bit steps read the latency and FP4 rows of builtin:extra")
    parser.add_argument("--folds", type=int, default=argparse.SUPPRESS, metavar="K",
                        help=f"folds of --cross-validate kfold (default {DEFAULT_FOLDS})")
    parser.add_argument("--seed", type=int, default=argparse.SUPPRESS, metavar="N",
                        help=f"seed of the fold assignment of --cross-validate kfold (default {DEFAULT_SEED})")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document")


def run(args: argparse.Namespace) -> int:
    from cost_models.measurements import builtin_name_of, read_measurements
    from cost_models.params import load_params
    from cost_models.validation import validate

    # --folds and --seed default to "not given" (argparse.SUPPRESS), so that given with another mode they are refused.
    args.folds, args.seed = getattr(args, "folds", None), getattr(args, "seed", None)
    if args.cross_validate != "kfold":
        for flag, value in (("--folds", args.folds), ("--seed", args.seed)):
            if value is not None:
                raise InputError(source=flag, value=value, expected="no value unless --cross-validate kfold")
    if args.folds is not None and args.folds < 2:
        raise InputError(source="--folds", value=args.folds, expected="an integer of at least 2")
    rows, skipped = [], []
    data: dict[str, list] = {}
    for name in args.measurements:
        used, dropped = read_measurements(name)
        rows += used
        skipped += dropped
        # Files other than the shipped extra file play calibration.csv's part in the fit chain.
        data.setdefault(builtin_name_of(name) or "calibration", []).extend(used)
    if not rows:
        raise InputError(source=", ".join(args.measurements), has_value=False,
                         expected=f"at least one usable row ({len(skipped)} skipped: "
                                  f"{skipped[0].reason if skipped else 'the file has no rows'})")
    from autotune.commands.common_args import params_path_from_args

    params = load_params(params_path_from_args(args))
    report = validate(rows, skipped, params)
    if args.cross_validate is not None:
        report["cross_validation"] = _cross_validation(args, data, params)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return EXIT_OK


def _cross_validation(args: argparse.Namespace, data: dict, params) -> dict:
    from cost_models.cross_validation import cross_validate

    try:
        return cross_validate(data, params, mode=args.cross_validate,
                              folds=DEFAULT_FOLDS if args.folds is None else args.folds,
                              seed=DEFAULT_SEED if args.seed is None else args.seed)
    except ValueError as exc:
        raise InputError(source="--cross-validate", value=args.cross_validate,
                         expected=f"rows it can split ({exc})") from None


def _cell(summary: dict) -> str:
    if not summary["n"]:
        return f"{'-':>5}{'-':>9}{'-':>9}"
    return f"{summary['n']:>5}{summary['median_abs_pct_error']:>8.1f}%{summary['p90_abs_pct_error']:>8.1f}%"


METRICS = ("throughput", "ttft", "tpot")


def _header(first: str) -> list[str]:
    return [f"{'':<14}" + "".join(f"  {m:^23}" for m in METRICS) + f"{'spearman':>10}",
            f"{first:<14}" + "".join(f"  {'n':>5}{'median':>9}{'p90':>9}" for _ in METRICS) + f"{'rho':>10}"]


def _line(name: str, entry: dict) -> str:
    rho = entry.get("spearman_within_groups")
    cells = "".join(f"  {_cell(entry[m])}" for m in METRICS)
    return f"{name[:14]:<14}{cells}{'-' if rho is None else format(rho, '.3f'):>10}"


def render(report: dict) -> str:
    """Returns the human table: n, median and p90 absolute % error per metric, overall and per hardware."""
    lines = [f"rows used {report['rows_used']}, skipped {report['rows_skipped']}"]
    lines += [f"  skipped {n} x {reason}"[:100] for reason, n in report["skipped_reasons"].items()]
    cv = report.get("cross_validation")
    if cv is not None:
        lines += ["", "in sample: the given parameters predict every row (rows they were fitted on included)"]
    lines += [""] + _header("hardware")
    lines.append(_line("all", report))
    for name, entry in report["by_hardware"].items():
        lines.append(_line(name, entry))
    if cv is not None:
        lines += [""] + render_cross_validation(cv)
    lines += ["", "error = |predicted - measured| / measured; rho = mean Spearman rank correlation of",
              "throughput within groups of 3+ configurations (same model, hardware, dtype, lengths)"]
    return "\n".join(lines)


def render_cross_validation(cv: dict) -> list[str]:
    """Returns the out-of-sample table: each fold's held-out rows, then all held-out rows pooled."""
    if cv["mode"] == "kfold":
        title = (f"out of sample: {cv['k']} folds (seed {cv['seed']}) of whole groups of model, hardware, dtype "
                 "and lengths;")
    else:
        title = "out of sample: leave one hardware out;"
    lines = [title, f"each fold predicted by the fit chain ({cv['chain']['passes']} passes) refitted without it"]
    lines += _header("held out")
    notes = []
    for fold in cv["folds"]:
        lines.append(_line(fold["name"] + ("*" if fold["held_fields"] else ""), fold))
        if fold["held_fields"]:
            notes.append(f"* {fold['name']}: no row of its fit depends on {', '.join(fold['held_fields'])}: "
                         "kept at the start value")
    lines.append(_line("pooled", cv["pooled"]))
    if len(cv["pooled"]["by_data"]) > 1:
        lines += [_line(f"  {name}", entry) for name, entry in cv["pooled"]["by_data"].items()]
    unfitted = sorted({tuple(f["unfitted_fields"]) for f in cv["folds"] if f["unfitted_fields"]})
    for fields in unfitted:
        where = [f["name"] for f in cv["folds"] if tuple(f["unfitted_fields"]) == fields]
        scope = "any fold" if len(where) == len(cv["folds"]) else ", ".join(where)
        notes.append(f"not refitted in {scope} (their step has no rows): {', '.join(fields)}")
    return lines + [wrapped for note in notes for wrapped in textwrap.wrap(note, 100, subsequent_indent="  ")]
