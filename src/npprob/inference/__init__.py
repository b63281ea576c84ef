"""Inference layer: compile a network into plans and run them with numba kernels."""

from npprob.inference.engine import Engine, QueryResult
from npprob.inference.layout import ParameterLayout
from npprob.inference.plan import Plan, compile_plan

__all__ = ["Engine", "ParameterLayout", "Plan", "QueryResult", "compile_plan"]
