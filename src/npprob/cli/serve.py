"""``npprob serve``: the clinician's page and the JSON API on this machine."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from npprob._extras import require
from npprob.cli._patient import add_unconverged_option
from npprob.errors import ParameterError

#: Where ``npprob serve`` listens unless told otherwise: this machine only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``serve`` subcommand."""
    p = sub.add_parser(
        "serve",
        help="a local web page for clinicians and a JSON API",
        description=(
            "Serves the form, the probability with its credible interval, the reasons and the "
            "treatment list (the answers of npprob diagnose --json), and a JSON API "
            "(POST /api/diagnose, POST /api/treat, GET /api/schema, GET /api/health, "
            "/openapi.json). Listens on this machine only unless --host names another "
            "address. Patient data is not written to disk or logs. Needs the web extra "
            "(pip install 'npprob[web]'). A research tool, not a medical device."
        ),
    )
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")  # fmt: skip
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument("--model", default=None, metavar="NAME|PATH",
                   help="model name or folder (default: the shipped default model)")  # fmt: skip
    p.add_argument("--setting", default=None, metavar="NAME",
                   help="care setting of every record, as diagnose --setting (it overrides a "
                   "record's own)")  # fmt: skip
    add_unconverged_option(p)
    p.set_defaults(run=run)


def is_loopback(host: str) -> bool:
    """True for an address that only this machine can reach (``localhost`` included)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    """Execute ``npprob serve``."""
    if not 1 <= args.port <= 65535:
        raise ParameterError(f"--port must be in [1, 65535]; got {args.port}.")
    require("web", "npprob serve")
    import uvicorn

    from npprob.web.app import create_app

    app = create_app(args.model, args.setting, allow_unconverged=args.allow_unconverged)
    url = f"http://{args.host}:{args.port}/"
    if is_loopback(args.host):
        print(f"npprob serve: {url} (this machine only; Ctrl-C stops)", file=sys.stderr)
    else:
        print(
            f"npprob serve: warning: listening on {args.host}, reachable from other machines; "
            "there is no login and no encryption: use it only on a network you trust. "
            f"{url} (Ctrl-C stops)",
            file=sys.stderr,
        )
    # No access log: request lines are not patient data, but nothing is logged at all.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")
    return 0
