"""`autotune sweep`: the best configuration per card count (and per model, dtype, input length)."""
from __future__ import annotations

import argparse
import json

from autotune.commands import common_args as ca
from autotune.errors import EXIT_INFEASIBLE, EXIT_OK, InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ca.add_input_arguments(parser, cards_help="card counts: N, a range 1..64, a list 1,2,4,8, or a mix "
                                              "(--devices is the synonym for GPUs); default: 1..one machine")
    parser.add_argument("--models", default=None, metavar="A,B",
                        help="sweep over these models too (comma list; replaces --model)")
    parser.add_argument("--dtypes", default=None, metavar="bf16,fp8", help="sweep over these weight formats")
    parser.add_argument("--input-lens", default=None, metavar="N,M", help="sweep over these prompt lengths")
    parser.add_argument("--jobs", default="1", metavar="N", help="solve points in N processes")
    ca.add_solver_arguments(parser, top=False)
    # --model is optional here when --models is given.
    for action in parser._actions:
        if action.dest == "model":
            action.required = False


def run(args: argparse.Namespace) -> int:
    from autotune import api, report
    from autotune.sweep import stderr_progress

    models = _split(args.models, "--models") if args.models else ([args.model] if args.model else [])
    if not models:
        raise InputError(source="--model", has_value=False, expected="a model (--model NAME) or --models A,B")
    dtypes = [ca.parse_dtype(d, "--dtypes") for d in _split(args.dtypes, "--dtypes")] if args.dtypes else None
    lens = [ca.parse_int(v, "--input-lens") for v in _split(args.input_lens, "--input-lens")] \
        if args.input_lens else None
    hardware = api.load_hardware(args.hardware)
    cards = api.parse_cards(args.cards) if args.cards else tuple(range(1, hardware.devices_per_node + 1))
    result = api.sweep(models, hardware, ca.workload_from_args(args), cards=cards, dtypes=dtypes, input_lens=lens,
                       space=args.space,
                       objective=ca.parse_choice(args.objective, "--objective", ca.OBJECTIVE_CHOICES),
                       time_limit_s=ca.time_limit_from_args(args), params=ca.params_from_args(args),
                       jobs=ca.parse_int(args.jobs, "--jobs", maximum=256), progress=stderr_progress("sweep"))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(report.sweep_report(result))
    return EXIT_OK if any(p.recommendation is not None for p in result.points) else EXIT_INFEASIBLE


def _split(text: str, flag: str) -> list[str]:
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise InputError(source=flag, value=text, expected="a comma-separated list")
    return items
