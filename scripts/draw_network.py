"""Draw the clinical network's structure as docs/network.svg, from models/network.toml.

Usage: python3 scripts/draw_network.py [--check]

With --check, exit 1 when the shipped picture differs from a fresh one (the tests
run this check, so the picture always shows the network as specified).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from npprob.io.generated import write_or_check
from npprob.io.network_svg import network_svg
from npprob.io.resources import clinical_spec_path
from npprob.network.spec import load_spec

PICTURE = Path(__file__).resolve().parents[1] / "docs" / "network.svg"


def picture_text() -> str:
    """The SVG of the shipped specification."""
    spec = load_spec(clinical_spec_path())
    version = spec.meta.get("version", "")
    return network_svg(spec.network, title=f"npprob clinical network {version}".strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    return write_or_check(
        PICTURE, picture_text(), check=args.check, command="scripts/draw_network.py"
    )


if __name__ == "__main__":
    sys.exit(main())
