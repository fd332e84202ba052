"""`autotune enumerate`: every candidate, feasible or not, with its metrics and violations."""
from __future__ import annotations

import argparse
import json

from autotune.commands import common_args as ca
from autotune.commands import output_args as oa
from autotune.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ca.add_input_arguments(parser)
    ca.add_degree_arguments(parser)
    parser.add_argument("--objective", default="throughput", metavar="|".join(ca.OBJECTIVE_CHOICES),
                        help="the order of the rows (the solver's, ties included): feasible rows first")
    parser.add_argument("--batches", default="candidates", metavar="|".join(("candidates", "every", "layout-best")),
                        help="with --batch auto: 'candidates', the rows the solver chooses among (each layout's "
                             "best batch per objective, its largest feasible batch and the next); 'every', every "
                             "integer batch from 1 to one past what memory and the runtime allow (the brute "
                             "force the solver is checked against); 'layout-best', each layout once at its best "
                             "batch by that brute force (default: candidates)")
    parser.add_argument("--feasible-only", action="store_true", help="list only the rows that break no limit" + ca.NO_AUTO_DEFAULT)
    parser.add_argument("--limit", default="0", metavar="N", help="show the first N rows (0: all)")
    parser.add_argument("--params", default=None, metavar="FILE.yaml",
                        help="cost-model parameters (default: the file $AUTOTUNE_PARAMS names, else the shipped, "
                             "fitted ones)" + ca.NO_AUTO_DEFAULT)
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document" + ca.NO_AUTO_DEFAULT)
    oa.add_output_arguments(parser, csv=True)


def run(args: argparse.Namespace) -> int:
    from autotune import api
    from autotune.outputs import report

    oa.check_output_arguments(args)
    limit = ca.parse_int(args.limit, "--limit", minimum=0, maximum=10**9)
    result = api.enumerate_candidates(
        args.model, args.hardware, ca.workload_from_args(args), cards=ca.cards_from_args(args), space=args.space,
        objective=ca.parse_choice(args.objective, "--objective", ca.OBJECTIVE_CHOICES),
        params=ca.params_from_args(args), batches=args.batches, **ca.degrees_from_args(args))
    if args.feasible_only:
        result = api.only_feasible(result)
    if limit:
        result = api.first_candidates(result, limit)
    if args.csv:
        from autotune.outputs.csv_out import enumerate_csv
        enumerate_csv(result, args.csv)
        if args.csv == oa.STDOUT:
            return EXIT_OK
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(report.enumerate_report(result) + (f"\ncsv: {args.csv}" if args.csv else ""))
    return EXIT_OK
