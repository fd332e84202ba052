"""Reading a YAML mapping whose numbers may be written `48e9` (YAML 1.1 would read a string)."""
from __future__ import annotations

import re
from typing import Any

import yaml



class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e9`, `1.5e12` and `48.0E9` as floats.

    PyYAML follows YAML 1.1, whose float pattern needs a dot and a signed exponent, so
    `48e9` would arrive as the string '48e9': hardware files are full of such figures.
    """


_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)
                      |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                      |[-+]?\.(?:inf|Inf|INF)
                      |\.(?:nan|NaN|NAN))$""", re.X)
_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _first in list("-+0123456789."):
    resolvers = _Loader.yaml_implicit_resolvers.setdefault(_first, [])
    resolvers.insert(0, ("tag:yaml.org,2002:float", _FLOAT))
# Plain integers must stay integers: the int resolver has to win over the float one.
for _first, _resolvers in _Loader.yaml_implicit_resolvers.items():
    ints = [r for r in _resolvers if r[0] == "tag:yaml.org,2002:int"]
    others = [r for r in _resolvers if r[0] != "tag:yaml.org,2002:int"]
    _Loader.yaml_implicit_resolvers[_first] = ints + others


def parse_yaml(text: str) -> Any:
    """Returns the YAML document in `text`, with `48e9`-style numbers read as floats."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
