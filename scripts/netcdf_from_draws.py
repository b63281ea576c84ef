"""Rewrite a model folder's ``posterior.nc`` from its ``draws.npz`` and card.

Usage: python3 scripts/netcdf_from_draws.py MODEL_FOLDER [--chains N] [--replace-shipped]

For models written before the netCDF file kept chains and named dims: the draws are
read back (checksums verified), split into ``--chains`` chains (default: the card's
``sampler.chains`` when the draws divide evenly and were thinned chain by chain, else
one) and written as :meth:`npprob.learning.train.TrainedModel.inference_data` writes
them, with the specification's prior and the card's attributes. The draws and the card
are unchanged; SHA256SUMS is rewritten.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--chains", type=int, default=None)
    parser.add_argument("--replace-shipped", action="store_true")
    args = parser.parse_args(argv)

    from npprob.io.artifacts import ModelFolder
    from npprob.io.resources import clinical_spec
    from npprob.learning.fit import FitResult
    from npprob.learning.train import TrainedModel

    spec = clinical_spec()
    draws, card = ModelFolder(args.folder).load(spec)
    n_draws = next(iter(draws.values())).shape[0]
    chains = args.chains or int((card.get("sampler") or {}).get("chains") or 1)
    if n_draws % chains:
        print(f"{n_draws} draws do not split into {chains} chains; writing one", file=sys.stderr)
        chains = 1
    fit = FitResult(draws, str(card.get("likelihood")), 0.0)
    model = TrainedModel(draws, card, fit, spec=spec, chains=chains)
    model.save(args.folder, failed=True, replace_shipped=args.replace_shipped)
    print(f"rewrote {args.folder / 'posterior.nc'}: {chains} chains x {n_draws // chains} draws")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
