"""The ``loglens`` command: one entry for the stack, the services, traffic and on-call tools."""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from loglens.config import get_settings
from loglens.procs import python_module_argv, read_pid, run_dir, start_background, stop_background, tail

SERVICES = ("consumer", "ai-service", "demo-traffic")


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def cmd_up(args: argparse.Namespace) -> int:
    """Stack up, then consumer, AI service and (unless --no-traffic) demo traffic in the background."""
    from loglens.stack.cli import main as stack_main

    settings = get_settings()
    code = stack_main(["up"])
    if code != 0:
        return code
    start_background(settings, "consumer", python_module_argv("consumers.log_embedder"))
    start_background(settings, "ai-service", python_module_argv("ai_service.main"))
    base = f"http://{settings.api_host}:{settings.api_port}"
    print(f"waiting for the AI service at {base}/readyz ...", file=sys.stderr)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if _http_ok(f"{base}/readyz"):
            break
        if read_pid(settings, "ai-service") is None:
            print("the AI service exited during start-up; last lines of its log:", file=sys.stderr)
            print(tail(run_dir(settings) / "ai-service.log"), file=sys.stderr)
            return 1
        time.sleep(1)
    else:
        print("the AI service did not become ready in 120 s; see `loglens logs ai-service`", file=sys.stderr)
        return 1
    if not args.no_traffic:
        start_background(
            settings,
            "demo-traffic",
            [sys.executable, "-m", "loglens.cli", "demo-traffic", "--rate", str(args.rate)],
        )
    print(
        f"\nLogLens is up.\n  chat UI:     {base}/\n  API docs:    {base}/docs\n"
        f"  metrics:     {base}/metrics (AI service), "
        f"http://127.0.0.1:{settings.consumer_metrics_port}/ (consumer)\n"
        f"  logs:        loglens logs consumer|ai-service|demo-traffic\n  stop:        loglens down"
    )
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    settings = get_settings()
    for name in reversed(SERVICES):
        if stop_background(settings, name):
            print(f"stopped {name}")
    if args.all or args.wipe:
        from loglens.stack.cli import main as stack_main

        return stack_main(["down", *(["--wipe"] if args.wipe else [])])
    return 0


def cmd_ps(_: argparse.Namespace) -> int:
    settings = get_settings()
    for name in SERVICES:
        pid = read_pid(settings, name)
        print(f"{name:14} {'running pid ' + str(pid) if pid else 'stopped'}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    print(tail(run_dir(get_settings()) / f"{args.name}.log", args.lines))
    return 0


def cmd_consumer(_: argparse.Namespace) -> int:
    from consumers.log_embedder.app import main

    return main()


def cmd_serve(args: argparse.Namespace) -> int:
    from ai_service.main import main

    return main()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loglens", description="LogLens: ask your Spring Boot logs.")
    sub = parser.add_subparsers(dest="command", required=True)

    from loglens.stack.cli import add_subparser as add_stack

    add_stack(sub)

    from loglens.demo.cli import add_subparsers as add_demo

    add_demo(sub)

    p = sub.add_parser("up", help="stack up + consumer + AI service + demo traffic (the product, locally)")
    p.add_argument("--no-traffic", action="store_true", help="do not start the demo traffic generator")
    p.add_argument("--rate", type=float, default=20.0, help="demo traffic events per second")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="stop what `loglens up` started")
    p.add_argument("--all", action="store_true", help="also stop Kafka and OpenSearch")
    p.add_argument("--wipe", action="store_true", help="also stop the stack and delete its data")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("ps", help="which LogLens processes run")
    p.set_defaults(func=cmd_ps)

    p = sub.add_parser("logs", help="tail the log of a process started by `loglens up`")
    p.add_argument("name", choices=SERVICES)
    p.add_argument("-n", "--lines", type=int, default=50)
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser("consumer", help="run the log_embedder consumer in the foreground")
    p.set_defaults(func=cmd_consumer)

    p = sub.add_parser("serve", help="run the AI service in the foreground")
    p.set_defaults(func=cmd_serve)

    from loglens.oncall_cli import add_subparsers as add_oncall

    add_oncall(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
