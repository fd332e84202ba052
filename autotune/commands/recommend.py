"""`autotune recommend`: the provably best configurations for an objective, or why none fits."""
from __future__ import annotations

import argparse

from autotune.commands import common_args as ca
from autotune.commands import output_args as oa
from autotune.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ca.add_input_arguments(parser)
    ca.add_degree_arguments(parser)
    ca.add_solver_arguments(parser)
    ca.add_load_arguments(parser)
    ca.add_mode_argument(parser)
    oa.add_output_arguments(parser, emit=True)
    parser.add_argument("--no-alternatives", action="store_true",
                        help="when nothing fits, give the reasons but do not search for alternatives"
                             + ca.NO_AUTO_DEFAULT)


def run(args: argparse.Namespace) -> int:
    from autotune import api
    from autotune.outputs import report
    from autotune.outputs.disagg_report import mode_lines

    oa.check_output_arguments(args)
    request = api.resolve(args.model, args.hardware, ca.workload_from_args(args), cards=ca.cards_from_args(args),
                          space=args.space, params=ca.params_from_args(args), **ca.degrees_from_args(args))
    loaded = ca.under_load(args)
    choices = ca.LOAD_OBJECTIVE_CHOICES if loaded else ca.OBJECTIVE_CHOICES
    result = api.recommend(
        request.model, request.hardware, request.workload, cards=request.cards, space=request.space,
        objective=ca.parse_choice(args.objective, "--objective", choices),
        top=ca.parse_int(args.top, "--top", maximum=10_000), time_limit_s=ca.time_limit_from_args(args),
        params=request.params, explain=True, alternatives=not args.no_alternatives,
        tp=request.tp, pp=request.pp, dp=request.dp, ep=request.ep, adp=request.adp, mode=args.mode,
        **(ca.load_from_args(args) if loaded else {}))
    render = oa.settings_for(args, model=request.model, workload=request.workload, space=request.space,
                             hardware=request.hardware)
    settings = [render(r) for r in result.recommendations] if render else [None] * len(result.recommendations)
    oa.print_answers(args, doc=result.to_dict, entries_key="recommendations",
                     text=lambda: "\n".join([report.recommend_report(result),
                                             *mode_lines(result, rate=result.assumptions.load and
                                                         result.assumptions.load.get("rate_per_s"))]),
                     settings=settings, label="settings for #{n}")
    if result.recommendations:
        return EXIT_OK
    return oa.no_answer_exit("recommend", status=result.status,
                             reason=report.one_line_reason(result.reasons, "the solver found none"))
