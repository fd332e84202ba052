"""Output flags of the solver commands: --emit/--release (settings to paste), --plot FILE, --csv FILE.

The work is done elsewhere (`autotune.outputs.emit`, `autotune.outputs.plots`, `autotune.outputs.csv_out`); this module
adds the flags, checks that they combine, and attaches emitted settings to results' JSON and text.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from autotune.commands.common_args import NO_AUTO_DEFAULT
from autotune.errors import EXIT_INFEASIBLE, InputError
from autotune.results import Recommendation

STDOUT = "-"
#: Kept in step with `autotune.outputs.emit.FORMATS` (checked by a test) so that --help needs no import.
EMIT_FORMATS = ("furiosa", "vllm", "sglang", "trtllm", "yaml", "json")


def add_output_arguments(parser: argparse.ArgumentParser, *, emit: bool = False, plot: bool = False,
                         csv: bool = False) -> None:
    """Adds the output flags a command supports."""
    if emit:
        parser.add_argument("--emit", default=None, metavar="|".join(EMIT_FORMATS),
                            help="also print the builder/engine settings of each answer (default: none)" + NO_AUTO_DEFAULT)
        parser.add_argument("--release", default=None, metavar="R",
                            help="Furiosa LLM release: selects its rules (the search space covering it) and the "
                                 "--emit furiosa settings (default: the space's release)" + NO_AUTO_DEFAULT)
    if plot:
        parser.add_argument("--plot", default=None, metavar="FILE.png|svg",
                            help='also draw the result (needs matplotlib: pip install ".[plot]" from the checkout); default: none'
                                 + NO_AUTO_DEFAULT)
    if csv:
        parser.add_argument("--csv", default=None, metavar="FILE",
                            help="also write the rows as CSV ('-': to stdout, instead of the table); default: none"
                                 + NO_AUTO_DEFAULT)


def check_output_arguments(args: argparse.Namespace) -> None:
    """Raises InputError for flags that cannot combine (CSV and JSON both on stdout) or an unknown --emit.

    Also applies --release to the rules (see `select_release_space`), since every command with
    --release calls this before it loads the search space.
    """
    if getattr(args, "csv", None) == STDOUT and getattr(args, "json", False):
        raise InputError(source="--csv", value=STDOUT, expected="a file path when --json prints to stdout")
    fmt = getattr(args, "emit", None)
    if fmt is not None and fmt not in EMIT_FORMATS:
        raise InputError(source="--emit", value=fmt, expected="one of " + ", ".join(EMIT_FORMATS))
    select_release_space(args)


def select_release_space(args: argparse.Namespace) -> None:
    """Points `args.space` at the space of --release when --space is absent; checks they agree when both are given.

    The settings are emitted for the release, so the solve must use that release's rules (a 2026.3
    plan solved with 2026.4's rules can have a TP that 2026.3 refuses).
    """
    release = getattr(args, "release", None)
    if release is None:
        return
    from autotune.specs.space import check_space_covers, load_space, space_for_release
    if getattr(args, "space", None) is None:
        args.space = space_for_release(release).name
    else:
        check_space_covers(load_space(args.space), release)


def settings_for(args: argparse.Namespace, *, model: Any, workload: Any, space: Any,
                 hardware: Any) -> Callable[[Recommendation], str] | None:
    """Returns a function giving the --emit text of one answer, or None when --emit is absent."""
    fmt = getattr(args, "emit", None)
    if fmt is None:
        return None
    from autotune.outputs.emit import emit

    def render(rec: Recommendation, *, point_model: Any = None, point_workload: Any = None) -> str:
        if rec.metrics.get("mode") == "disagg":  # per pool, with its role
            from autotune.outputs.emit.disagg import render_disagg
            return render_disagg(fmt, metrics=rec.metrics, model=point_model or model,
                                 workload=point_workload or workload, space=space,
                                 release=getattr(args, "release", None), hardware=hardware)
        return emit(fmt, plan=rec.plan, model=point_model or model, workload=point_workload or workload,
                    space=space, release=getattr(args, "release", None), hardware=hardware)

    return render


def with_settings(entry: dict[str, Any], text: str | None, fmt: str | None) -> dict[str, Any]:
    """Returns a JSON recommendation entry with its emitted settings under "settings" (when any)."""
    if text is not None:
        entry["settings"] = {"format": fmt, "text": text}
    return entry


def settings_block(label: str, text: str) -> str:
    """Returns the human block of one answer's settings."""
    return f"\n{label}:\n{text.rstrip()}"


def print_answers(args: argparse.Namespace, *, doc: Callable[[], dict[str, Any]], entries_key: str,
                  text: Callable[[], str], settings: list[str | None], label: str,
                  notes: list[str] | None = None) -> None:
    """Prints a result with each answer's --emit settings: one JSON document, or the report and its blocks.

    `label` names answer i in the report, formatted with `{n}` (1-based), e.g. "settings for #{n}".
    """
    if args.json:
        out = doc()
        for entry, block in zip(out[entries_key], settings):
            with_settings(entry, block, args.emit)
        print(json.dumps(out, indent=2))
        return
    report = text()
    for i, block in enumerate(settings):
        if block is not None:
            report += settings_block(f"{label.format(n=i + 1)} ({args.emit})", block)
    print("\n".join([report, *(notes or [])]))


def no_answer_exit(command: str, *, status: str, reason: str) -> int:
    """Says on stderr, in one line, why a solve returned no answer; returns exit code 1."""
    if status == "UNKNOWN":
        print(f"autotune {command}: the time limit ran out before any configuration was found (UNKNOWN); "
              f"allow more with --time-limit", file=sys.stderr)
    else:
        print(f"autotune {command}: no configuration fits ({status}): {reason}", file=sys.stderr)
    return EXIT_INFEASIBLE
