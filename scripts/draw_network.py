"""Draw the clinical network's structure as docs/network.svg, from models/network.toml.

Usage: python3 scripts/draw_network.py [--check]

With --check, exit 1 when the shipped picture differs from a fresh one (the tests
run this check, so the picture always shows the network as specified).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    text = picture_text()
    if args.check:
        current = PICTURE.read_text(encoding="utf-8") if PICTURE.exists() else ""
        if current != text:
            print(f"{PICTURE} is out of date; run scripts/draw_network.py", file=sys.stderr)
            return 1
        print(f"{PICTURE} is up to date")
        return 0
    PICTURE.write_text(text, encoding="utf-8")
    print(f"wrote {PICTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
