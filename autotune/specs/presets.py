"""Finding a preset by name, with a "did you mean" for near misses."""
from __future__ import annotations

import difflib
from collections.abc import Iterable

from autotune.errors import InputError


def unknown_preset_error(kind: str, name: str, known: Iterable[str]) -> InputError:
    """Returns the error for an unknown preset, suggesting the closest known names."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return InputError(source=f"{kind} '{name}'", has_value=False,
                      expected=f"a {kind} preset or a path to a file{hint}; known presets: " + ", ".join(names))
