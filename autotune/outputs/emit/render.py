"""Shell commands and Python calls as data, and their deterministic text.

Emitters build `ShellCommand` and `PyCall` values; tests read the same values back (and parse the
rendered text with shlex and ast) to check every flag and keyword against a release's signature.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

#: Continuation indent of rendered commands and calls.
INDENT = "    "
#: Width the rendered Python aims to fit.
MAX_COLUMNS = 100


@dataclass(frozen=True, kw_only=True)
class ShellCommand:
    """One command line: positional words, then (flag, value) options in order (value None: bare flag)."""

    words: tuple[str, ...]
    options: tuple[tuple[str, str | None], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    """Environment assignments written before the command (`CUDA_VISIBLE_DEVICES=0,1`)."""

    def argv(self) -> list[str]:
        """Returns the argument vector (environment assignments excluded)."""
        out = list(self.words)
        for flag, value in self.options:
            out.append(flag)
            if value is not None:
                out.append(value)
        return out

    def flags(self) -> list[str]:
        """Returns the option flags in order."""
        return [flag for flag, _ in self.options]

    def render(self) -> str:
        """Returns the command as shell text, one option per continuation line."""
        head = " ".join([f"{k}={shlex.quote(v)}" for k, v in self.env] + [shlex.quote(w) for w in self.words])
        if not self.options:
            return head
        lines = [head]
        for flag, value in self.options:
            lines.append(INDENT + (flag if value is None else f"{flag} {shlex.quote(value)}"))
        return " \\\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class PyCall:
    """A Python call `callee(*args, **kwargs)`; argument values are literals or nested PyCalls."""

    callee: str
    args: tuple[object, ...] = ()
    kwargs: tuple[tuple[str, object], ...] = ()
    assign_to: str | None = None

    def kwarg_names(self) -> list[str]:
        return [name for name, _ in self.kwargs]

    def nested(self) -> list[PyCall]:
        """Returns the PyCalls among this call's argument values (one level)."""
        values = list(self.args) + [v for _, v in self.kwargs]
        return [v for v in values if isinstance(v, PyCall)]

    def inline(self) -> str:
        """Returns the call on one line."""
        parts = [_literal(a) for a in self.args] + [f"{k}={_literal(v)}" for k, v in self.kwargs]
        return f"{self.callee}({', '.join(parts)})"

    def render(self) -> str:
        """Returns the statement: on one line when short, else one argument per line."""
        prefix = f"{self.assign_to} = " if self.assign_to else ""
        return prefix + self._render(len(prefix), "")

    def _render(self, used: int, indent: str) -> str:
        one_line = self.inline()
        if used + len(one_line) <= MAX_COLUMNS and len(self.args) + len(self.kwargs) <= 2:
            return one_line
        inner = indent + INDENT
        lines = []
        for name, value in [(None, a) for a in self.args] + list(self.kwargs):
            head = "" if name is None else f"{name}="
            text = _literal(value)
            if isinstance(value, PyCall) and len(inner) + len(head) + len(text) + 1 > MAX_COLUMNS:
                text = value._render(len(inner) + len(head), inner)
            lines.append(f"{inner}{head}{text},")
        return f"{self.callee}(\n" + "\n".join(lines) + f"\n{indent})"

    def to_dict(self) -> dict[str, object]:
        return {
            "callee": self.callee,
            "args": [_plain(a) for a in self.args],
            "kwargs": {k: _plain(v) for k, v in self.kwargs},
        }


def _literal(value: object) -> str:
    if isinstance(value, PyCall):
        return value.inline()
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str):
        return json.dumps(value)  # double-quoted, as the Furiosa docs write strings
    return repr(value)


def _plain(value: object) -> object:
    if isinstance(value, PyCall):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
