"""autotune: constraint-solving autotuner for LLM inference parallelism."""
import sys
import types

__version__ = "0.1.0"

#: The public API (`autotune.api`), loaded on first use so that `import autotune` stays cheap.
_API_NAMES = ("Workload", "enumerate_candidates", "estimate", "load_hardware", "load_model", "load_space",
              "pareto", "recommend", "sweep")

__all__ = ["__version__", *_API_NAMES, "plan", "simulate"]


def __getattr__(name: str):
    if name in _API_NAMES:
        from autotune import api
        return getattr(api, name)
    if name == "simulate":
        from autotune.serving_api import simulate
        return simulate
    raise AttributeError(f"module 'autotune' has no attribute {name!r}")


class _Export:
    """A package attribute that stays an API function although a submodule has the same name.

    `autotune/estimate.py` and `autotune/plan.py` (ParallelPlan) share their names with the functions
    `estimate` and `plan`: importing such a submodule sets the package attribute to the module, which
    would hide the function from `from autotune import estimate`. This data descriptor keeps the
    function (its setter ignores the import system's assignment); `from autotune.plan import
    ParallelPlan` still works through sys.modules. Renaming those modules would make it unnecessary.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __get__(self, instance, owner=None):
        import importlib
        return getattr(importlib.import_module(self.module), self.name)

    def __set__(self, instance, value) -> None:
        del value  # the submodule, set by the import system: the function stays the attribute


class _Package(types.ModuleType):
    """The package's module type, with the functions that share a submodule's name."""

    estimate = _Export("autotune.api", "estimate")
    plan = _Export("autotune.planning", "plan")


sys.modules[__name__].__class__ = _Package
