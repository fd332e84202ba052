"""The error family the command line turns into one line and an exit code.

`InputError` (exit 2) is bad input: a file, a field, a value and what was expected.
`InfeasibleError` (exit 1) is a well-formed request that no configuration satisfies.
Both are raised at the edges; nothing inside catches them to carry on.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_INFEASIBLE = 1
EXIT_BAD_INPUT = 2


class AutotuneError(Exception):
    """Base of every error the CLI reports without a traceback."""

    exit_code = EXIT_BAD_INPUT


class InputError(AutotuneError):
    """Bad input: names the source (file or flag), the field, the value and what was expected."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, *, source: str, field: str | None = None, value: object = None,
                 expected: str, has_value: bool = True) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.expected = expected
        where = source if field is None else f"{source}: field '{field}'"
        got = f": got {_short_repr(value)}" if has_value else ""
        super().__init__(f"{where}{got}; expected {expected}")


class InfeasibleError(AutotuneError):
    """No configuration satisfies the request; `reasons` say which limits bind."""

    exit_code = EXIT_INFEASIBLE

    def __init__(self, message: str, *, reasons: tuple[str, ...] = ()) -> None:
        self.reasons = reasons
        super().__init__(message)


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
