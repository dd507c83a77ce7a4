"""Throughput of the local all-MiniLM-L6-v2 embedder (numpy) on Spring Boot log lines.

    python -m bench.bench_embedding            # measure, print, update docs/benchmarks.md
    python -m bench.bench_embedding --no-write # measure and print only

Builds N log lines from ~30 realistic Spring Boot messages with varying ids, warms up,
then measures sentences/s for batch 1 (one ``embed([line])`` call per line: the latency
path) and batch 64 (``embed(lines)`` with ``batch_size=64``: the consumer path). Prints a
table and numpy's BLAS, and replaces the section between
``<!-- bench:embedding:start -->`` and ``<!-- bench:embedding:end -->`` in
``docs/benchmarks.md`` (created with a ``# Benchmarks`` title if missing) via
:mod:`bench.record`. Needs no services, only the model files.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.record import DOC, machine, record_section, today  # noqa: E402
from loglens.embedding import MiniLMEmbedder  # noqa: E402

SECTION_KEY = "embedding"  # <!-- bench:embedding:start --> ... <!-- bench:embedding:end -->

# "LEVEL logger : message"; {n} {ms} {ip} {user} {order} ... are filled per line.
MESSAGES: list[str] = [
    "INFO c.a.order.OrderServiceApplication : Started OrderServiceApplication in {s} seconds "
    "(process running for {s2})",
    "INFO o.s.b.w.embedded.tomcat.TomcatWebServer : Tomcat started on port {port} (http) "
    "with context path '/'",
    "WARN com.zaxxer.hikari.pool.HikariPool : HikariPool-1 - Connection is not available, "
    "request timed out after {ms}ms.",
    "ERROR o.h.engine.jdbc.spi.SqlExceptionHelper : Connection refused to database host {ip}:5432",
    "ERROR c.a.payment.client.PaymentClient : Failed to charge order {order}: card declined by issuer "
    "(code {n})",
    "ERROR o.a.c.c.C.[.[.[/].[dispatcherServlet] : Servlet.service() for servlet [dispatcherServlet] "
    'threw exception java.lang.NullPointerException: Cannot invoke "com.acme.order.Customer.getId()" '
    'because "customer" is null',
    "WARN o.s.w.s.m.s.DefaultHandlerExceptionResolver : Resolved [org.springframework.web."
    "HttpRequestMethodNotSupportedException: Request method 'GET' is not supported]",
    "INFO c.a.order.service.OrderService : Order {order} placed by user {user} with {n} items, "
    "total {amount} EUR",
    "DEBUG c.a.inventory.service.StockService : Reserved {n} units of SKU-{sku} for order {order}",
    "WARN o.a.k.clients.NetworkClient : [Consumer clientId=consumer-orders-{n}, groupId=orders] "
    "Connection to node {n2} ({ip}:9092) could not be established. Broker may not be available.",
    "ERROR o.s.kafka.listener.KafkaMessageListenerContainer : Error handler threw an exception: "
    "org.springframework.kafka.listener.ListenerExecutionFailedException: Listener method threw "
    "exception; offset {offset}",
    "INFO o.a.k.c.c.internals.ConsumerCoordinator : [Consumer clientId=consumer-orders-{n}, "
    "groupId=orders] Adding newly assigned partitions: orders-{n2}",
    "WARN io.github.resilience4j.circuitbreaker : CircuitBreaker 'paymentService' changed state "
    "from CLOSED to OPEN after {n} failed calls",
    "ERROR c.a.gateway.filter.AuthFilter : JWT signature does not match locally computed signature "
    "for user {user}",
    "INFO c.a.auth.service.LoginService : User {user} logged in successfully from {ip}",
    "WARN c.a.auth.service.LoginService : Failed login attempt {n} for user {user} from {ip}",
    "ERROR o.s.b.SpringApplication : Application run failed: org.springframework.beans.factory."
    "BeanCreationException: Error creating bean with name 'dataSource'",
    "WARN o.s.b.a.jdbc.DataSourceHealthIndicator : DataSource health check failed: Connection refused",
    "ERROR c.a.order.client.ShippingClient : I/O error on POST request for "
    '"http://shipping:8080/api/shipments": Read timed out after {ms} ms',
    "INFO c.a.shipping.service.ShipmentService : Shipment {order} dispatched via DHL, tracking id {trk}",
    "DEBUG o.s.web.servlet.DispatcherServlet : Completed 200 OK in {ms} ms for GET /api/orders/{n}",
    "WARN o.h.e.j.e.i.JdbcEnvironmentInitiator : HHH000342: Could not obtain connection to query metadata",
    "ERROR o.s.t.interceptor.TransactionInterceptor : Application exception overridden by rollback "
    "exception: org.springframework.dao.DeadlockLoserDataAccessException",
    "INFO c.a.report.job.DailyReportJob : Daily report generated: {n} orders, {n2} refunds in {ms} ms",
    "WARN o.s.c.a.AnnotationConfigApplicationContext : Exception encountered during context "
    "initialization - cancelling refresh attempt",
    "ERROR c.a.notification.MailSender : Could not send mail to {user}@example.com: SMTP server "
    "smtp.example.com:587 unreachable",
    "INFO c.a.cache.RedisCacheManager : Cache 'products' evicted {n} entries after TTL of {s} s",
    "WARN c.a.order.service.OrderService : Order {order} is stuck in PENDING_PAYMENT for {n} minutes",
    "ERROR java.util.concurrent.ThreadPoolExecutor : java.lang.OutOfMemoryError: Java heap space "
    "in thread pool-{n}-thread-{n2}",
    "INFO o.s.s.web.DefaultSecurityFilterChain : Will secure any request with {n} filters",
]


def build_lines(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        template = MESSAGES[i % len(MESSAGES)]
        values = {
            "n": rnd.randint(1, 999),
            "n2": rnd.randint(0, 11),
            "ms": rnd.randint(5, 60000),
            "s": f"{rnd.uniform(1, 30):.3f}",
            "s2": f"{rnd.uniform(30, 60):.3f}",
            "port": rnd.choice([8080, 8081, 9090]),
            "ip": f"10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
            "user": rnd.choice(["alice", "bob", "carol", "dave", "erin"]) + str(rnd.randint(1, 99)),
            "order": f"ORD-{rnd.randint(100000, 999999)}",
            "amount": f"{rnd.uniform(5, 900):.2f}",
            "sku": rnd.randint(1000, 9999),
            "offset": rnd.randint(0, 10**7),
            "trk": f"{rnd.getrandbits(48):012x}",
        }
        lines.append(template.format(**values))
    return lines


def blas_info() -> str:
    try:
        cfg: Any = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        text = f"{blas.get('name', '?')} {blas.get('version', '?')}"
    except Exception:  # numpy < 1.25 has no mode="dicts"
        text = "unknown"
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))}
    if env:
        text += " (" + ", ".join(f"{k}={v}" for k, v in sorted(env.items())) + ")"
    return text


def bench_batch1(emb: MiniLMEmbedder, lines: list[str], repeat: int) -> tuple[float, float, float]:
    """(sentences/s at the median latency, p50 ms, p95 ms) embedding one line per call."""
    per_call: list[float] = []
    for _ in range(repeat):
        for line in lines:
            t0 = time.perf_counter()
            emb.embed([line])
            per_call.append(time.perf_counter() - t0)
    p50 = statistics.median(per_call)
    p95 = statistics.quantiles(per_call, n=20)[-1]
    return 1.0 / p50, p50 * 1e3, p95 * 1e3


def bench_batched(emb: MiniLMEmbedder, lines: list[str], repeat: int) -> tuple[float, float, float]:
    """(sentences/s of the best run, median and slowest ms per ``batch_size`` lines) over repeats.

    Best-of, because on a shared machine other processes only ever slow a run down.
    """
    runs: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        emb.embed(lines)
        runs.append(time.perf_counter() - t0)
    per_batch = emb.batch_size / len(lines) * 1e3
    return len(lines) / min(runs), statistics.median(runs) * per_batch, max(runs) * per_batch


def render_section(rows: list[tuple[str, float, float, float]], info: dict[str, str]) -> str:
    out = [
        "## Embedding throughput",
        "",
        "Local all-MiniLM-L6-v2 on numpy (`loglens.embedding.MiniLMEmbedder`), measured by "
        f"`python -m bench.bench_embedding` on {info['date']}.",
        "",
        f"- Machine: {info['machine']}; {info['python']}; load average at start {info['load']}",
        f"- numpy {np.__version__}, BLAS: {info['blas']}",
        f"- Input: {info['lines']} Spring Boot log lines (level + logger + message), "
        f"{info['tokens']} WordPiece tokens per line on average (incl. [CLS]/[SEP])",
        f"- Model load (SHA-256 check + safetensors + tokenizer): {info['load_s']} s",
        "",
        "| batch | sentences/s | ms per batch (median) | ms per batch (slowest / p95) |",
        "| ---: | ---: | ---: | ---: |",
    ]
    out += [f"| {name} | {rate:,.0f} | {ms:.1f} | {worst:.1f} |" for name, rate, ms, worst in rows]
    out += [
        "",
        "Batch 1: one `embed([line])` call per line; rate = 1 / median latency; last column p95. "
        "Batch 64: `embed(lines)` with `batch_size=64`; rate of the best of the repeats; ms per "
        "64-line batch, median and slowest run. Figures drop when other processes share the CPUs "
        "(see the load average).",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=512, help="log lines to embed (default 512)")
    ap.add_argument("--batch1-lines", type=int, default=128, help="lines timed one by one (default 128)")
    ap.add_argument("--repeat", type=int, default=5, help="timed repeats (default 5)")
    ap.add_argument("--no-write", action="store_true", help=f"do not update {DOC.relative_to(ROOT)}")
    args = ap.parse_args(argv)

    lines = build_lines(args.lines)
    t0 = time.perf_counter()
    emb = MiniLMEmbedder(batch_size=64)
    load_s = time.perf_counter() - t0
    counts = emb.token_counts(lines)
    mean_tokens, max_tokens = float(counts.mean()), int(counts.max())

    emb.embed(lines[:64])  # warm-up: page in weights, BLAS thread pool, tokenizer
    for line in lines[:16]:
        emb.embed([line])

    load_avg = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = [
        ("1", *bench_batch1(emb, lines[: args.batch1_lines], args.repeat)),
        ("64", *bench_batched(emb, lines, args.repeat)),
    ]

    info = {
        "date": today(),
        "machine": machine(),
        "python": f"Python {platform.python_version()}",
        "blas": blas_info(),
        "lines": str(len(lines)),
        "tokens": f"{mean_tokens:.1f}",
        "load": load_avg,
        "load_s": f"{load_s:.2f}",
    }
    print(
        f"model load: {load_s:.2f} s; {len(lines)} lines, {mean_tokens:.1f} tokens/line avg, max {max_tokens}"
    )
    print(f"machine: {info['machine']}; numpy {np.__version__}; BLAS: {info['blas']}")
    print()
    print(f"{'batch':>5} | {'sentences/s':>11} | {'ms/call p50':>11} | {'ms/call max':>11}")
    print(f"{'-' * 5}-+-{'-' * 11}-+-{'-' * 11}-+-{'-' * 11}")
    for name, rate, ms, worst in rows:
        print(f"{name:>5} | {rate:>11,.0f} | {ms:>11.1f} | {worst:>11.1f}")
    print("(batch 1: max column is p95)")

    if not args.no_write:
        record_section(SECTION_KEY, render_section(rows, info))
        print(f"\nupdated {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
