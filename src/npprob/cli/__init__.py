"""The ``npprob`` command line: one subcommand per module, a thin layer over the API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from npprob import __version__
from npprob.cli import diagnose, evaluate, query, serve, simulate, train, treat, warmup
from npprob.errors import NpprobError, ParameterError

__all__ = ["main"]

_COMMANDS = (diagnose, treat, query, simulate, train, evaluate, serve, warmup)

#: Exit status for bad input (files, names, states, evidence).
EXIT_BAD_INPUT = 2
#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="npprob",
        description="Exact Bayesian-network inference for neuropathic pain diagnosis.",
    )
    parser.add_argument("--version", action="version", version=f"npprob {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in _COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Bad input, and a file that cannot be read or written, are reported as one
    line on standard error with exit status 2; Ctrl-C as one line with exit status
    130; any other exception is a bug and keeps its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    # SIGTERM (a timeout, a job scheduler) unwinds like Ctrl-C, so staging folders and
    # temporary files are removed on the way out instead of being left behind.
    previous = _on_terminate(_interrupt)
    try:
        return int(args.run(args) or 0)
    except NpprobError as exc:
        message = str(exc)
        if isinstance(exc, ParameterError) and exc.parameter in _flags(parser, args.command):
            # The API names its parameter; the user typed the flag.
            message = exc.phrase(_flags(parser, args.command)[exc.parameter])
        print(f"npprob {args.command}: error: {_one_line(message)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename is not None else ""
        reason = exc.strerror or str(exc)
        print(f"npprob {args.command}: error: {_one_line(reason)}{where}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"npprob {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        _on_terminate(previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _on_terminate(handler):
    """Install ``handler`` for SIGTERM (main thread only); return the one it replaces."""
    import signal
    import threading

    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def _flags(parser: argparse.ArgumentParser, command: str) -> dict[str, str]:
    """The subcommand's options by destination: ``{"chain_draws": "--chain-draws"}``."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a.option_strings[0] for a in sub.choices[command]._actions if a.option_strings}


def _one_line(message: str) -> str:
    return " ".join(message.split())
