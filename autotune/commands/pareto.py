"""`autotune pareto`: the exact latency/throughput Pareto front, each point with its configuration."""
from __future__ import annotations

import argparse
import json
import sys

from autotune.commands import common_args as ca
from autotune.errors import EXIT_INFEASIBLE, EXIT_OK

AXES_CHOICES = ("tpot-throughput", "user-card")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ca.add_input_arguments(parser)
    ca.add_degree_arguments(parser)
    parser.add_argument("--axes", default="tpot-throughput", metavar="|".join(AXES_CHOICES),
                        help="tpot-throughput: TPOT vs output tokens/s over all replicas; user-card: tokens/s per "
                             "user (1/TPOT) vs tokens/s per card")
    ca.add_solver_arguments(parser, top=False, objective=False)


def run(args: argparse.Namespace) -> int:
    from autotune import api, report

    result = api.pareto(args.model, args.hardware, ca.workload_from_args(args), cards=ca.cards_from_args(args),
                        space=args.space, axes=ca.parse_choice(args.axes, "--axes", AXES_CHOICES),
                        time_limit_s=ca.time_limit_from_args(args), params=ca.params_from_args(args),
                        **ca.degrees_from_args(args))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(report.pareto_report(result))
    if result.points:
        return EXIT_OK
    print(f"autotune pareto: no configuration fits ({result.status}): "
          f"{report.one_line_reason(result.reasons, 'the solver found none')}", file=sys.stderr)
    return EXIT_INFEASIBLE
