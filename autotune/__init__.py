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


class _Package(types.ModuleType):
    """The package's module type: `autotune.plan` is the `plan` function, loaded on first use.

    The submodule `autotune/plan.py` (ParallelPlan) has the same name: importing it sets the package
    attribute `plan` to the module, which would hide the function from `from autotune import plan`.
    The property keeps the function (the setter ignores the import system's assignment);
    `from autotune.plan import ParallelPlan` still works through sys.modules. Renaming that module
    would make this unnecessary.
    """

    @property
    def plan(self):
        from autotune.planning import plan
        return plan

    @plan.setter
    def plan(self, value) -> None:
        del value  # the submodule autotune.plan, set by the import system: the function stays the attribute


sys.modules[__name__].__class__ = _Package
