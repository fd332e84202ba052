"""`autotune recommend`: the provably best configurations for an objective, or why none fits."""
from __future__ import annotations

import argparse
import json
import sys

from autotune.commands import common_args as ca
from autotune.errors import EXIT_INFEASIBLE, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ca.add_input_arguments(parser)
    ca.add_degree_arguments(parser)
    ca.add_solver_arguments(parser)
    parser.add_argument("--no-alternatives", action="store_true",
                        help="when nothing fits, give the reasons but do not search for alternatives")


def run(args: argparse.Namespace) -> int:
    from autotune import api, report

    result = api.recommend(
        args.model, args.hardware, ca.workload_from_args(args), cards=ca.cards_from_args(args), space=args.space,
        objective=ca.parse_choice(args.objective, "--objective", ca.OBJECTIVE_CHOICES),
        top=ca.parse_int(args.top, "--top", maximum=10_000), time_limit_s=ca.time_limit_from_args(args),
        params=ca.params_from_args(args), explain=True, alternatives=not args.no_alternatives,
        **ca.degrees_from_args(args))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=False))
    else:
        print(report.recommend_report(result))
    if result.recommendations:
        return EXIT_OK
    print(f"autotune recommend: no configuration fits ({result.status}): "
          f"{report.one_line_reason(result.reasons, 'the solver found none')}", file=sys.stderr)
    return EXIT_INFEASIBLE
