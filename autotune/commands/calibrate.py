"""`autotune calibrate`: fit the cost model's shared efficiency parameters to measurement CSVs.

Writes a parameter file (YAML) whose provenance names the command, the data (with its
SHA-256) and the fit's accuracy on that data. Only the fitted fields move; the others keep
their values and sources, and the starting file's provenance is kept under `previous`, so a
file produced in steps records every step.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import replace
from pathlib import Path

from autotune.errors import EXIT_OK, InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--measurements", required=True, metavar="CSV", action="append",
                        help="measurements with the columns of cost_models/data/calibration.csv "
                             "(repeat the flag to fit on several files)")
    parser.add_argument("--hardware", default=None, metavar="NAME",
                        help="fit on this hardware's rows only; omitted: every row")
    parser.add_argument("--dtype", default=None, metavar="DTYPE",
                        help="fit on rows of this weight format only; omitted: every row")
    parser.add_argument("--load-type", default=None, metavar="TYPE[,TYPE...]",
                        help="fit on rows of these load types only; omitted: every row")
    parser.add_argument("--fit", default=None, metavar="NAME[,NAME...]",
                        help="parameters to fit; omitted: the ten shared efficiencies and overheads")
    parser.add_argument("--params", default=None, metavar="FILE.yaml",
                        help="starting parameters and cited values; omitted: the shipped ones")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.yaml", help="where to write the fit")


def run(args: argparse.Namespace) -> int:
    from cost_models.calibration import fit, fitted_sources
    from cost_models.measurements import read_measurements
    from cost_models.params import DEFAULT_FITTED, FITTED_BOUNDS, dump_params, load_params
    from cost_models.validation import validate

    names = DEFAULT_FITTED if args.fit is None else tuple(n.strip() for n in args.fit.split(",") if n.strip())
    unknown = [n for n in names if n not in FITTED_BOUNDS]
    if unknown or not names:
        raise InputError(source="--fit", value=args.fit, expected="names among " + ", ".join(sorted(FITTED_BOUNDS)))
    rows, skipped = [], []
    for path in args.measurements:
        used, dropped = read_measurements(path)
        rows += used
        skipped += dropped
    for flag, attr, value in (("--hardware", "hardware_key", args.hardware), ("--dtype", "dtype", args.dtype)):
        if value is not None:
            rows = [r for r in rows if getattr(r, attr) == value]
            if not rows:
                raise InputError(source=flag, value=value,
                                 expected="a value with usable rows in " + ", ".join(args.measurements))
    if args.load_type is not None:
        kinds = {k.strip() for k in args.load_type.split(",") if k.strip()}
        rows = [r for r in rows if r.load_type in kinds]
        if not rows:
            raise InputError(source="--load-type", value=args.load_type,
                             expected="load types with usable rows in " + ", ".join(args.measurements))
    if not rows:
        raise InputError(source=", ".join(args.measurements), has_value=False, expected="at least one usable row")
    output = Path(args.output)
    if output.is_dir():
        raise InputError(source="-o", value=args.output, expected="a file path, not a directory")
    start = load_params(args.params)
    result = fit(rows, start, names=names)
    files = [Path(p) for p in args.measurements]
    data = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    report = validate(rows, [], result.params)
    command = "autotune calibrate " + " ".join(f"--measurements {p}" for p in args.measurements) \
        + (f" --hardware {args.hardware}" if args.hardware else "") \
        + (f" --dtype {args.dtype}" if args.dtype else "") \
        + (f" --load-type {args.load_type}" if args.load_type else "") \
        + (f" --fit {','.join(names)}" if args.fit else "") \
        + (f" --params {args.params}" if args.params else "") + f" -o {args.output}"
    provenance = {
        "command": command,
        "data_sha256": data,
        "rows_used": len(rows),
        "rows_skipped": len(skipped),
        "fitted": list(names),
        "fit": {"method": "scipy.optimize.least_squares, soft_l1 loss on log(predicted/measured)",
                "converged": result.success, "residuals": result.residuals},
        "accuracy_on_fit_data": {m: report[m] for m in ("throughput", "ttft", "tpot")}
        | {"spearman_within_groups": report["spearman_within_groups"]},
    }
    if args.params is not None and start.provenance:
        provenance["previous"] = dict(start.provenance)
    label = " + ".join(data) + (f" ({args.dtype} rows)" if args.dtype else "") \
        + (f" ({args.load_type} rows)" if args.load_type else "") \
        + (f" ({args.hardware} rows)" if args.hardware else "")
    params = replace(result.params, sources=fitted_sources(result.params, names, label, result.held), provenance=provenance)
    header = ("Cost-model parameters shared by every device, model and layout (docs/cost-model.md).\n"
              f"Produced by: {command}\n"
              "Hardware without measurements (RNGD) uses these shared values with its own datasheet figures.")
    try:
        dump_params(params, output, header=header)
    except OSError as exc:
        raise InputError(source="-o", value=args.output, expected=f"a writable file ({exc.strerror})") from None
    acc = provenance["accuracy_on_fit_data"]["throughput"]
    print(f"fitted {len(names)} parameters on {len(rows)} rows; throughput median "
          f"{acc['median_abs_pct_error']}% p90 {acc['p90_abs_pct_error']}%; wrote {output}", file=sys.stderr)
    return EXIT_OK
