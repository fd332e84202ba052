"""The solver: candidate layouts, runtime rules, exact batches, the CP-SAT formulation, optima, Pareto fronts,
explanations, sweeps and capacity plans."""
