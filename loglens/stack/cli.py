"""``loglens stack up|down|status|logs`` (also ``python -m loglens.stack ...``).

``main(argv)`` is the standalone entry point. ``add_subparser(subparsers)`` plugs the
same commands into the ``loglens`` argparse CLI as ``loglens stack ...``; the parser
it adds sets ``func=run_args`` so the caller can do ``return args.func(args)`` (errors
are printed as one ``error: ...`` message and turned into exit codes there).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from loglens.stack.checks import StackError

EXIT_ERROR = 1
EXIT_NOT_UP = 3


def _settings() -> Any:
    from loglens.config import get_settings

    return get_settings()


def _cmd_up(args: argparse.Namespace) -> int:
    from loglens.stack import manager

    settings = _settings()
    manager.up(settings, progress=not args.quiet)
    return _print_status(manager.status(settings), as_json=False)


def _cmd_down(args: argparse.Namespace) -> int:
    from loglens.stack import manager

    result = manager.down(_settings(), wipe=args.wipe, progress=True)
    for name, what in result.items():
        print(f"{name:<11} {what}")
    return 0


def _print_status(st: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(st, indent=2))
    else:
        print(f"{'server':<11} {'state':<9} {'pid':>8} {'port':>6}  health")
        for name in ("kafka", "opensearch"):
            s = st[name]
            pid = str(s["pid"]) if s["pid"] is not None else "-"
            print(f"{name:<11} {s['state']:<9} {pid:>8} {s['port']:>6}  {s['health']}")
    return 0 if st["all_up"] else EXIT_NOT_UP


def _cmd_status(args: argparse.Namespace) -> int:
    from loglens.stack import manager

    return _print_status(manager.status(_settings()), as_json=args.json)


def _cmd_logs(args: argparse.Namespace) -> int:
    from loglens.stack import manager
    from loglens.stack.checks import tail_lines

    settings = _settings()
    names = [args.server] if args.server else list(manager.SERVERS)
    for name in names:
        path = manager._log_file(settings, name)
        if len(names) > 1:
            print(f"==> {name}: {path} <==")
        if not path.exists():
            print(f"(no log yet at {path})")
            continue
        for line in tail_lines(path, args.n):
            print(line)
    return 0


def _configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="stack_command", metavar="{up,down,status,logs}")
    sub.required = True
    p = sub.add_parser("up", help="start (or reuse) Kafka + OpenSearch and wait until ready")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(stack_func=_cmd_up)
    p = sub.add_parser("down", help="stop the processes recorded in the pid files")
    p.add_argument("--wipe", action="store_true", help="also delete the Kafka and OpenSearch data dirs")
    p.set_defaults(stack_func=_cmd_down)
    p = sub.add_parser("status", help="state of each server; exit 0 if all up, 3 if not")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(stack_func=_cmd_status)
    p = sub.add_parser("logs", help="tail of a server's log")
    p.add_argument("server", nargs="?", choices=["kafka", "opensearch"], help="default: both")
    p.add_argument("-n", type=int, default=50, help="number of lines (default 50)")
    p.set_defaults(stack_func=_cmd_logs)


def run_args(args: argparse.Namespace) -> int:
    """Run a parsed ``stack`` command; StackError becomes a message and exit 1."""
    try:
        code: int = args.stack_func(args)
        return code
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def add_subparser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``stack`` to a ``loglens`` CLI's subparsers (``parser.add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "stack", help="local Kafka + OpenSearch (k-NN) for development and tests"
    )
    _configure(parser)
    parser.set_defaults(func=run_args)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="loglens stack", description="Local Kafka (KRaft) + OpenSearch with k-NN as plain JVM processes."
    )
    _configure(parser)
    args = parser.parse_args(argv)
    return run_args(args)
