"""`autotune calibrate`: fit the cost model's efficiency parameters to measurement CSVs.

Writes a parameter file (YAML) whose provenance names the command, the data (with its
SHA-256) and the fit's accuracy on that data. Only the fitted fields move; the others keep
their values and sources, and the starting file's provenance is kept under `previous`, so a
file produced in steps records every step. `--chain` runs the documented chain of steps that
produced the shipped parameters (docs/cost-model.md, section 4) in one command; it is the same
function (`cost_models.calibration.fit_chain`) that `validate --cross-validate` refits per fold.

`--hardware H` fits H's own values on H's rows (the per-hardware entries of the parameter file,
`CostParams.hardware_values`, which price H and nothing else) and leaves the shared values as they
were: the written file, given to any command as `--params FILE` (or named by $AUTOTUNE_PARAMS),
prices H with the user's fit and every other device as before. `--shared` fits the shared values on
H's rows instead.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import replace
from pathlib import Path

from autotune.errors import EXIT_OK, InputError

METRICS = ("throughput", "ttft", "tpot")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cost_models.calibration import DEVICE_FITTED
    from cost_models.measurements import BUILTIN_MEASUREMENTS, BUILTIN_PREFIX

    builtins = ", ".join(f"{BUILTIN_PREFIX}{k} ({v.name})" for k, v in BUILTIN_MEASUREMENTS.items())
    parser.add_argument("--measurements", required=True, metavar="CSV", action="append",
                        help="measurements with the columns of cost_models/data/calibration.csv, or a shipped "
                             f"file: {builtins} (repeat the flag to fit on several files)")
    parser.add_argument("--chain", action="store_true",
                        help="run the fit chain of docs/cost-model.md (efficiencies on builtin:calibration and any "
                             "file that is not a shipped one, fixed overheads on the latency rows and the 4-bit "
                             "efficiency on the FP4 rows of builtin:extra, twice) instead of one fit")
    parser.add_argument("--hardware", default=None, metavar="NAME",
                        help="fit this hardware's own parameters on its rows, leaving the shared values (and every "
                             "other device's answers) as they are; omitted: the shared values on every row")
    parser.add_argument("--shared", action="store_true",
                        help="with --hardware: fit the shared values on that hardware's rows instead of its own")
    parser.add_argument("--dtype", default=None, metavar="DTYPE",
                        help="fit on rows of this weight format only; omitted: every row")
    parser.add_argument("--load-type", default=None, metavar="TYPE[,TYPE...]",
                        help="fit on rows of these load types only; omitted: every row")
    parser.add_argument("--fit", default=None, metavar="NAME[,NAME...]",
                        help="parameters to fit; omitted: the shared efficiencies and overheads (with --hardware: "
                             + ", ".join(DEVICE_FITTED) + ")")
    parser.add_argument("--params", default=None, metavar="FILE.yaml",
                        help="starting parameters and cited values; omitted: the file $AUTOTUNE_PARAMS names, "
                             "else the shipped ones")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.yaml",
                        help="where to write the fit (never one of the --measurements files)")


def run(args: argparse.Namespace) -> int:
    from autotune.commands.common_args import params_path_from_args
    from cost_models.calibration import DEVICE_FITTED, fit, fit_chain, fitted_sources, hardware_fitted_sources, \
        select_rows
    from cost_models.measurements import builtin_name_of, measurements_path, read_measurements
    from cost_models.params import DEFAULT_FITTED, FITTED_BOUNDS, dump_params, load_params
    from cost_models.validation import validate

    output = Path(args.output)
    files = [measurements_path(p) for p in args.measurements]
    for name, file in zip(args.measurements, files):
        if file.resolve() == output.resolve():
            raise InputError(source="-o", value=args.output,
                             expected=f"a file other than the measurements it reads ({name}): writing the fit "
                                      "there would replace the CSV")
    if output.is_dir():
        raise InputError(source="-o", value=args.output, expected="a file path, not a directory")
    if args.chain:
        for flag, value in (("--fit", args.fit), ("--hardware", args.hardware), ("--dtype", args.dtype),
                            ("--load-type", args.load_type)):
            if value is not None:
                raise InputError(source=flag, value=value,
                                 expected="no value with --chain (the chain's steps name their fields and rows)")
    if args.shared and args.hardware is None:
        raise InputError(source="--shared", value=True, expected="--hardware NAME (whose rows fit the shared values)")
    own = args.hardware is not None and not args.shared
    names = (DEVICE_FITTED if own else DEFAULT_FITTED) if args.fit is None \
        else tuple(n.strip() for n in args.fit.split(",") if n.strip())
    allowed = [n for n in FITTED_BOUNDS if not (own and "." in n)]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise InputError(source="--fit", value=args.fit,
                         expected="names among " + ", ".join(sorted(allowed))
                                  + (" (a hardware's own values are whole fields)" if own else ""))
    rows, skipped = [], []
    data: dict[str, list] = {}
    file_names: dict[str, list[str]] = {}
    for path, file in zip(args.measurements, files):
        used, dropped = read_measurements(file)
        rows += used
        skipped += dropped
        # Files other than the shipped extra file play calibration.csv's part in the chain.
        role = builtin_name_of(file) or "calibration"
        data.setdefault(role, []).extend(used)
        file_names.setdefault(role, []).append(file.name)
    for flag, value, selected in (("--hardware", args.hardware, lambda: select_rows(rows, hardware=args.hardware)),
                                  ("--dtype", args.dtype, lambda: select_rows(rows, dtype=args.dtype))):
        if value is not None:
            rows = selected()
            if not rows:
                raise InputError(source=flag, value=value,
                                 expected="a value with usable rows in " + ", ".join(args.measurements))
    if args.load_type is not None:
        kinds = tuple(k.strip() for k in args.load_type.split(",") if k.strip())
        rows = select_rows(rows, load_types=kinds)
        if not rows:
            raise InputError(source="--load-type", value=args.load_type,
                             expected="load types with usable rows in " + ", ".join(args.measurements))
    if not rows:
        raise InputError(source=", ".join(args.measurements), has_value=False, expected="at least one usable row")
    params_path = params_path_from_args(args)
    start = load_params(params_path)
    digests = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    command = "autotune calibrate " + " ".join(f"--measurements {p}" for p in args.measurements) \
        + (" --chain" if args.chain else "") \
        + (f" --hardware {args.hardware}" if args.hardware else "") + (" --shared" if args.shared else "") \
        + (f" --dtype {args.dtype}" if args.dtype else "") \
        + (f" --load-type {args.load_type}" if args.load_type else "") \
        + (f" --fit {','.join(names)}" if args.fit else "") \
        + (f" --params {params_path}" if params_path else "") + f" -o {args.output}"
    provenance = {"command": command, "data_sha256": digests, "rows_used": len(rows), "rows_skipped": len(skipped)}
    if args.chain:
        chain = fit_chain(data, start, file_names={k: " + ".join(v) for k, v in file_names.items()})
        fitted = chain.params
        passes = max(s.pass_number for s in chain.steps)
        provenance["chain"] = [{"data": " + ".join(file_names.get(s.step.data, [s.step.data])),
                                "fitted": list(s.step.names), "rows": s.rows}
                               | ({"dtype": s.step.dtype} if s.step.dtype else {})
                               | ({"load_types": list(s.step.load_types)} if s.step.load_types else {})
                               for s in chain.steps if s.pass_number == passes]
        provenance["passes"] = passes
        provenance["fit"] = {"method": "scipy.optimize.least_squares, soft_l1 loss on log(predicted/measured)",
                             "converged": chain.converged}
        if chain.held or chain.unfitted:
            provenance["held"] = list(chain.held + chain.unfitted)
    else:
        device = _device_name(rows, args.hardware) if own else None
        result = fit(rows, start, names=names, hardware=device)
        label = " + ".join(digests) + (f" ({args.dtype} rows)" if args.dtype else "") \
            + (f" ({args.load_type} rows)" if args.load_type else "") \
            + (f" ({args.hardware} rows)" if args.hardware else "")
        sources = hardware_fitted_sources(result.params, names, device, label, result.held) if own \
            else fitted_sources(result.params, names, label, result.held)
        fitted = replace(result.params, sources=sources)
        provenance["fitted"] = list(names)
        if own:
            provenance["hardware"] = device
            provenance["shared_values"] = "unchanged (the fit moved only " + device + "'s own entries)"
        provenance["fit"] = {"method": "scipy.optimize.least_squares, soft_l1 loss on log(predicted/measured)",
                             "converged": result.success, "residuals": result.residuals}
    report = validate(rows, [], fitted)
    provenance["accuracy_on_fit_data"] = {m: report[m] for m in METRICS} \
        | {"spearman_within_groups": report["spearman_within_groups"]}
    if params_path is not None and start.provenance:
        provenance["previous"] = dict(start.provenance)
    params = replace(fitted, provenance=provenance)
    header = ("Cost-model parameters shared by every device, model and layout (docs/cost-model.md).\n"
              f"Produced by: {command}\n"
              "A device's own entries (a 'rngd' key: python -m cost_models.rngd_fit; any hardware's: autotune "
              "calibrate --hardware) replace the shared values for it.")
    try:
        dump_params(params, output, header=header)
    except OSError as exc:
        raise InputError(source="-o", value=args.output, expected=f"a writable file ({exc.strerror})") from None
    acc = provenance["accuracy_on_fit_data"]["throughput"]
    what = f"the fit chain ({passes} passes)" if args.chain else f"{len(names)} parameters" \
        + (f" of {args.hardware}'s own" if own else "") + (f" ({len(result.held)} held: no row depends on them)"
                                                           if not args.chain and result.held else "")
    print(f"fitted {what} on {len(rows)} rows; throughput median "
          f"{acc['median_abs_pct_error']}% p90 {acc['p90_abs_pct_error']}%; wrote {output}", file=sys.stderr)
    return EXIT_OK


def _device_name(rows, hardware: str) -> str:
    """Returns the hardware preset name the selected rows ran on (the key of its own parameter entries)."""
    names = sorted({r.hardware.name for r in rows})
    if len(names) != 1:
        raise InputError(source="--hardware", value=hardware,
                         expected=f"rows of one hardware preset (the rows name {', '.join(names)})")
    return names[0]
