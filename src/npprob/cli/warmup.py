"""``npprob warmup``: compile the inference kernels now, so the first diagnosis does not wait."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``warmup`` subcommand."""
    p = sub.add_parser(
        "warmup",
        help="compile the inference kernels (or load them from the cache) ahead of use",
        description=(
            "Compiles every numba kernel that diagnose, treat, query and serve run, on a tiny "
            "network with the argument types of every query, and stores them in the cache "
            "(NUMBA_CACHE_DIR, else $XDG_CACHE_HOME/npprob/numba, else ~/.cache/npprob/numba). "
            "The first run after install takes a few seconds; later runs load the kernels from "
            "the cache. Prints one line saying which it did."
        ),
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob warmup``."""
    from npprob.inference.compiled import warm_up

    print(f"npprob warmup: {warm_up().summary()}")
    return 0
