"""`autotune pareto`: the exact latency/throughput Pareto front, each point with its configuration."""
from __future__ import annotations

import argparse

from autotune.commands import common_args as ca
from autotune.commands import output_args as oa
from autotune.errors import EXIT_INFEASIBLE, EXIT_OK

AXES_CHOICES = ("tpot-throughput", "user-card")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ca.add_input_arguments(parser)
    ca.add_degree_arguments(parser)
    parser.add_argument("--axes", default="tpot-throughput", metavar="|".join(AXES_CHOICES),
                        help="tpot-throughput: TPOT vs output tokens/s over all replicas; user-card: tokens/s per "
                             "user (1/TPOT) vs tokens/s per device (card or GPU)")
    ca.add_solver_arguments(parser, top=False, objective=False)
    ca.add_load_arguments(parser)
    ca.add_mode_argument(parser)
    oa.add_output_arguments(parser, emit=True, plot=True, csv=True)


def run(args: argparse.Namespace) -> int:
    from autotune import api
    from autotune.outputs import report
    from autotune.outputs.disagg_report import disagg_pool_lines

    oa.check_output_arguments(args)
    request = api.resolve(args.model, args.hardware, ca.workload_from_args(args), cards=ca.cards_from_args(args),
                          space=args.space, params=ca.params_from_args(args), **ca.degrees_from_args(args))
    result = api.pareto(request.model, request.hardware, request.workload, cards=request.cards, space=request.space,
                        axes=ca.parse_choice(args.axes, "--axes", AXES_CHOICES),
                        time_limit_s=ca.time_limit_from_args(args), params=request.params,
                        tp=request.tp, pp=request.pp, dp=request.dp, ep=request.ep, adp=request.adp,
                        mode=args.mode, **(ca.load_from_args(args) if ca.under_load(args) else {}))
    render = oa.settings_for(args, model=request.model, workload=request.workload, space=request.space,
                             hardware=request.hardware)
    settings = [render(p) for p in result.points] if render else [None] * len(result.points)
    notes = []
    if args.plot and ca.under_load(args):
        from autotune.outputs.plots import pareto_plot
        notes.append(f"plot: {pareto_plot(result, args.plot, others=())}")
    elif args.plot:
        from autotune.outputs.plots import pareto_plot
        listing = api.enumerate_candidates(request.model, request.hardware, request.workload, cards=request.cards,
                                           space=request.space, params=request.params,
                                           tp=request.tp, pp=request.pp, dp=request.dp)
        others = listing.candidates[:listing.feasible_count]
        notes.append(f"plot: {pareto_plot(result, args.plot, others=others)}")
    if args.csv:
        from autotune.outputs.csv_out import pareto_csv
        pareto_csv(result, args.csv)
        if args.csv == oa.STDOUT:
            return EXIT_OK if result.points else EXIT_INFEASIBLE
        notes.append(f"csv: {args.csv}")
    oa.print_answers(args, doc=result.to_dict, entries_key="points", text=lambda: "\n".join([report.pareto_report(result), *disagg_pool_lines(
                         result.points, result.assumptions.device_name)]),
                     settings=settings, label="settings for point #{n}", notes=notes)
    if result.points:
        return EXIT_OK
    return oa.no_answer_exit("pareto", status=result.status,
                             reason=report.one_line_reason(result.reasons, "the solver found none"))
