"""Network layer: variables, networks with CPTs, and evidence batches."""

from npprob.network.evidence import UNOBSERVED, EvidenceBatch
from npprob.network.network import ROW_SUM_TOLERANCE, Network, check_probability_table
from npprob.network.variable import Variable

__all__ = [
    "ROW_SUM_TOLERANCE",
    "UNOBSERVED",
    "EvidenceBatch",
    "Network",
    "Variable",
    "check_probability_table",
]
