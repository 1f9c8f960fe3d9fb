"""The `cskh` console script.

Each package contributes its own sub-commands through a `register(subparsers)` function so
that this file stays a thin router and the packages stay independent of each other.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Packages that contribute sub-commands, in the order they appear in `cskh --help`.
_COMMAND_MODULES = ("knowledge_base.cli", "triage.cli", "handoff.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cskh", description="Trợ lý CSKH tiếng Việt: knowledge base, sentiment, handoff."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    eval_parser = subparsers.add_parser(
        "eval", help="print quality numbers (retrieval recall, sentiment F1) on held-out data"
    )
    eval_subparsers = eval_parser.add_subparsers(dest="eval_command", required=True)
    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A package may be absent in a partial install; its commands are simply not offered.
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        module.register(subparsers)
        # `cskh eval <what>` is shared: each package names what it evaluates.
        for name, (help_text, configure, handler) in getattr(
            module, "eval_commands", dict
        )().items():
            sub = eval_subparsers.add_parser(name, help=help_text)
            configure(sub)
            sub.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except CliError as exc:
        print(f"cskh: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return int(result or 0)


class CliError(Exception):
    """A user-facing error: printed as one clear line, exit code 2, no traceback."""


if __name__ == "__main__":
    sys.exit(main())
