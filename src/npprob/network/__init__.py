"""Network layer: variables and their roles, networks with CPTs, evidence batches, specs."""

from npprob.network.evidence import UNOBSERVED, EvidenceBatch
from npprob.network.network import ROW_SUM_TOLERANCE, Network, check_probability_table
from npprob.network.variable import HIDDEN_ROLES, Role, Variable

__all__ = [
    "HIDDEN_ROLES",
    "ROW_SUM_TOLERANCE",
    "UNOBSERVED",
    "EvidenceBatch",
    "Network",
    "Role",
    "Variable",
    "check_probability_table",
]
