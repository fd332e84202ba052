"""`autotune sweep`: the best configuration per device count (and per model, dtype, input length)."""
from __future__ import annotations

import argparse
import dataclasses
import json

from autotune.commands import common_args as ca
from autotune.commands import output_args as oa
from autotune.errors import EXIT_INFEASIBLE, EXIT_OK, InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ca.add_input_arguments(parser, cards_help="device counts: N, a range 1..64, a list 1,2,4,8, or a mix "
                                              "(--devices is the synonym for GPUs); default: 1..one machine")
    parser.add_argument("--models", default=None, metavar="A,B",
                        help="sweep over these models too (comma list; replaces --model)" + ca.NO_AUTO_DEFAULT)
    parser.add_argument("--dtypes", default=None, metavar="bf16,fp8",
                        help="sweep over these weight formats (the KV cache follows each, unless --kv-dtype)"
                             + ca.NO_AUTO_DEFAULT)
    parser.add_argument("--input-lens", default=None, metavar="N,M", help="sweep over these prompt lengths" + ca.NO_AUTO_DEFAULT)
    ca.add_fan_out_arguments(parser, what="solve points")
    ca.add_solver_arguments(parser, top=False)
    ca.add_load_arguments(parser)
    ca.add_mode_argument(parser)
    oa.add_output_arguments(parser, emit=True, plot=True, csv=True)
    # --model is optional here when --models is given.
    for action in parser._actions:
        if action.dest == "model":
            action.required = False


def run(args: argparse.Namespace) -> int:
    from autotune import api
    from autotune.outputs import report
    from autotune.solver.sweeps import stderr_progress
    from cost_models.params import calibration_for

    oa.check_output_arguments(args)
    names = _split(args.models, "--models") if args.models else ([args.model] if args.model else [])
    if not names:
        raise InputError(source="--model", has_value=False, expected="a model (--model NAME) or --models A,B")
    dtypes = [ca.parse_dtype(d, "--dtypes") for d in _split(args.dtypes, "--dtypes")] if args.dtypes else None
    lens = [ca.parse_int(v, "--input-lens") for v in _split(args.input_lens, "--input-lens")] \
        if args.input_lens else None
    workload = ca.workload_from_args(args)
    models = [api.load_model(name) for name in names]
    hardware = api.load_hardware(args.hardware)
    space = api.load_space(args.space or hardware.default_space)
    cards = api.parse_cards(args.cards) if args.cards else tuple(range(1, hardware.devices_per_node + 1))
    loaded = ca.under_load(args)
    choices = ca.LOAD_OBJECTIVE_CHOICES if loaded else ca.OBJECTIVE_CHOICES
    result = api.sweep(models, hardware, workload, cards=cards, dtypes=dtypes, input_lens=lens, space=space,
                       objective=ca.parse_choice(args.objective, "--objective", choices),
                       **(ca.load_from_args(args) if loaded else {}), mode=args.mode,
                       time_limit_s=ca.time_limit_from_args(args), params=ca.params_from_args(args),
                       progress=stderr_progress("sweep"), **ca.fan_out_from_args(args))
    render = oa.settings_for(args, model=models[0], workload=workload, space=space, hardware=hardware)
    by_name = {m.name: m for m in models}
    settings = []
    for point in result.points:
        if render is None or point.recommendation is None:
            settings.append(None)
            continue
        # The point's own request: the swept dtype (KV following it unless fixed) and prompt length.
        kv = workload.kv_dtype if dtypes is None else None
        point_workload = dataclasses.replace(workload, dtype=point.dtype, kv_dtype=kv, input_len=point.input_len)
        settings.append(render(point.recommendation, point_model=by_name[point.model], point_workload=point_workload))
    code = EXIT_OK if any(p.recommendation is not None for p in result.points) else EXIT_INFEASIBLE
    notes = []
    if args.plot:
        from autotune.outputs.plots import sweep_plot
        notes.append(f"plot: {sweep_plot(result, args.plot, hardware=hardware.name, device_name=hardware.device_name)}")
    if args.csv:
        from autotune.outputs.csv_out import sweep_csv
        sweep_csv(result, args.csv)
        if args.csv == oa.STDOUT:
            return code
        notes.append(f"csv: {args.csv}")
    calibration = calibration_for(hardware.name, ca.params_path_from_args(args))
    if args.json:
        # A sweep has one hardware: its calibration stands in an assumptions object, as recommend's does.
        out = {"objective": result.objective, "assumptions": {"hardware": hardware.name,
                                                              "calibration": calibration.to_dict()},
               **{k: v for k, v in result.to_dict().items() if k != "objective"}}
        for entry, text in zip(out["points"], settings):
            if "recommendation" in entry:
                oa.with_settings(entry["recommendation"], text, args.emit)
        print(json.dumps(out, indent=2))
    else:
        dev = hardware.device_name
        text = report.sweep_report(result, device_name=dev, calibration=calibration)
        from autotune.outputs.disagg_report import wrap, pool_line
        for point in result.points:  # which points are disaggregated, and their pools
            if point.recommendation is not None and point.recommendation.metrics.get("mode") == "disagg":
                text += "\n" + "\n".join(wrap(f"{point.model}, {point.cards} {dev}s: " + pool_line(
                    1, point.recommendation, dev).split(": ", 1)[1].replace(
                        " (the table's TP/PP/DP are the decode pool's)", " (the row's TP/PP/DP: the decode pool's)")))
        for point, block in zip(result.points, settings):
            if block is not None:
                label = (f"settings for {point.model}, {point.dtype}, input {point.input_len}, {point.cards} "
                         f"{dev}{'s' if point.cards != 1 else ''}")
                text += oa.settings_block(f"{label} ({args.emit})", block)
        print("\n".join([text, *notes]))
    return code


def _split(text: str, flag: str) -> list[str]:
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise InputError(source=flag, value=text, expected="a comma-separated list")
    return items
