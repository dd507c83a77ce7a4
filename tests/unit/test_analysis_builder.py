"""The builder on plain evidence: origin ranking with reasons, next steps, timeline order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ai_service.analysis.builder import (
    Evidence,
    TemplateSummary,
    build_analysis,
    fingerprint,
    fingerprint_of,
    render_text,
    timeline,
)
from ai_service.analysis.detection import Deployment

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def ts(ms: int) -> str:
    return (T0 + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ev(id_: str, ms: int, service: str, level: str, message: str, trace: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "@timestamp": ts(ms),
        "service": service,
        "level": level,
        "message": message,
        "trace_id": trace,
        "version": "1.4.2",
        "slot": "blue",
        **extra,
    }


HIKARI = "HikariPool-1 - Connection is not available, request timed out after 30001ms (total=10, active=10)"
POOL_EXC = {
    "class": "org.springframework.transaction.CannotCreateTransactionException",
    "causes": [
        {
            "class": "org.springframework.transaction.CannotCreateTransactionException",
            "message": "Could not open JPA",
        },
        {"class": "java.sql.SQLTransientConnectionException", "message": HIKARI},
    ],
    "frames": [
        "com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
        "com.acme.payment.service.PaymentService.charge(PaymentService.java:87)",
    ],
    "top_app_frame": "com.acme.payment.service.PaymentService.charge",
}
CALLER_EXC = {
    "class": "org.springframework.web.client.HttpServerErrorException$InternalServerError",
    "causes": [
        {
            "class": "org.springframework.web.client.HttpServerErrorException$InternalServerError",
            "message": '500 on POST request for "http://payment:8080/api/payments"',
        }
    ],
    "frames": ["com.acme.order.client.PaymentClient.charge(PaymentClient.java:48)"],
    "top_app_frame": "com.acme.order.client.PaymentClient.charge",
}


def db_pool_trace(n: int) -> list[dict[str, Any]]:
    t = f"trace{n}"
    base = n * 100_000
    return [
        ev(
            f"g{n}",
            base + 30_050,
            "gateway",
            "ERROR",
            "Upstream order-service responded 500 INTERNAL_SERVER_ERROR",
            t,
        ),
        ev(
            f"o{n}",
            base + 30_020,
            "order",
            "ERROR",
            f"Payment failed for order ORD-{n}",
            t,
            exception=CALLER_EXC,
            template_id="order-payment-failed",
        ),
        ev(f"p{n}", base + 30_000, "payment", "WARN", HIKARI, t, template_id="hikari"),
        ev(
            f"q{n}",
            base + 30_005,
            "payment",
            "ERROR",
            "Unhandled exception on POST /api/payments",
            t,
            exception=POOL_EXC,
            template_id="payment-unhandled",
        ),
        ev(f"i{n}", base + 10, "order", "INFO", "Received POST /api/orders", t),
    ]


def evidence_for_order_symptom() -> Evidence:
    related = [e for n in range(3) for e in db_pool_trace(n)]
    events = [e for e in related if e["service"] == "order" and e["level"] == "ERROR"][::-1]
    summary = TemplateSummary(
        "order",
        "order-payment-failed",
        "Payment failed for order <*>",
        "ERROR",
        3,
        T0,
        T0 + timedelta(minutes=3),
        services=["order"],
        versions=["1.4.2"],
        slots=["blue"],
        by_pair={("1.4.2", "blue"): 3},
    )
    return Evidence(
        "spike",
        summary,
        T0 - timedelta(hours=1),
        T0 + timedelta(minutes=5),
        events,
        related,
        deployments=[Deployment("order", "1.4.2", "blue", T0 - timedelta(days=1), T0)],
        error_ratios={"payment": (0.4, 0.01), "order": (0.2, 0.02), "gateway": (0.3, 0.05)},
    )


def test_origin_is_the_service_that_fails_first_and_deepest_not_the_one_alerting() -> None:
    analysis = build_analysis(evidence_for_order_symptom(), "fp", T0)
    ranked = [(o.rank, o.service) for o in analysis.suspected_origin]
    assert ranked[0] == (1, "payment") and ranked[1][1] == "order"
    reasons = analysis.suspected_origin[0].reasons
    assert "first to log an error in 3 of 3 shared traces" in reasons
    assert "deepest cause SQLTransientConnectionException is thrown in payment" in reasons
    assert "order report failures calling payment" in reasons
    assert "highest error ratio jump: 1.0% → 40.0%" in reasons
    # The origin's own template is named; the analysed service keeps its template.
    assert analysis.suspected_origin[0].template_id in {"hikari", "payment-unhandled"}
    assert analysis.suspected_origin[1].template_id == "order-payment-failed"
    assert any(
        s.startswith("check HikariCP pool size / DB connections in payment") for s in analysis.next_steps
    )


def test_timeline_is_ordered_by_time_across_services() -> None:
    analysis = build_analysis(evidence_for_order_symptom(), "fp", T0)
    stamps = [e.timestamp for e in analysis.related.timeline]
    assert stamps == sorted(stamps)
    assert [e.service for e in analysis.related.timeline[:5]] == [
        "order",
        "payment",
        "payment",
        "order",
        "gateway",
    ]
    assert (
        timeline([{"id": "b", "@timestamp": ts(1)}, {"id": "a", "@timestamp": ts(1)}, {"id": "a"}])[0].id
        == "a"
    )


def test_only_in_the_new_deployment_suggests_the_rollback() -> None:
    npe = {
        "class": "java.lang.NullPointerException",
        "causes": [
            {"class": "java.lang.NullPointerException", "message": "Cannot invoke Coupon.getPercent()"}
        ],
        "frames": ["com.acme.order.service.PricingService.applyDiscount(PricingService.java:64)"],
        "top_app_frame": "com.acme.order.service.PricingService.applyDiscount",
    }
    events = [
        ev(
            "n1",
            5,
            "order",
            "ERROR",
            "Servlet.service() threw NullPointerException",
            "t1",
            exception=npe,
            version="1.4.3",
            slot="green",
            template_id="npe",
        )
    ]
    related = [*events, ev("g1", 9, "gateway", "ERROR", "Upstream order-service responded 500", "t1")]
    summary = TemplateSummary(
        "order",
        "npe",
        "Servlet.service() threw <*>",
        "ERROR",
        40,
        T0,
        T0 + timedelta(minutes=4),
        versions=["1.4.3"],
        slots=["green"],
        by_pair={("1.4.3", "green"): 40},
    )
    deps = [
        Deployment("order", "1.4.2", "blue", T0 - timedelta(days=1), T0 + timedelta(minutes=4)),
        Deployment("order", "1.4.3", "green", T0 - timedelta(minutes=1), T0 + timedelta(minutes=4)),
    ]
    analysis = build_analysis(Evidence("new_template", summary, T0, T0, events, related, deps), "fp", T0)
    assert analysis.suspected_origin[0].service == "order"
    assert "only in green v1.4.3; blue v1.4.2 does not log it" in analysis.suspected_origin[0].reasons
    assert "gateway report failures calling order" in analysis.suspected_origin[0].reasons
    assert analysis.next_steps[0] == (
        "roll back order to blue v1.4.2: the NullPointerException appears only in green v1.4.3"
    )
    assert any("PricingService.applyDiscount" in s for s in analysis.next_steps)
    assert analysis.reuse.first_in == "green v1.4.3"
    assert analysis.title.startswith("New NullPointerException in order")
    assert "Suspected origin #1: order" in render_text(analysis)


def test_timeouts_point_at_the_slow_callee() -> None:
    msg = (
        "Stock reservation failed for order ORD-1: Read timed out executing POST http://inventory:8080/api/x"
    )
    events = [ev("o1", 5000, "order", "ERROR", msg, "t1", template_id="stock")]
    summary = TemplateSummary("order", "stock", msg, "ERROR", 12, T0, T0, by_pair={("1.4.2", "blue"): 12})
    analysis = build_analysis(Evidence("spike", summary, T0, T0, events, events), "fp", T0)
    assert "inspect inventory latency: order calls to inventory time out" in analysis.next_steps


def test_fingerprint_depends_on_service_template_exception_frame_and_version() -> None:
    base = fingerprint("order", "npe", "java.lang.NullPointerException", "a.B.c", "1.4.3")
    assert base == fingerprint("order", "npe", "java.lang.NullPointerException", "a.B.c", "1.4.3")
    assert base != fingerprint("order", "npe", "java.lang.NullPointerException", "a.B.c", "1.4.4")
    assert base != fingerprint("payment", "npe", "java.lang.NullPointerException", "a.B.c", "1.4.3")
    events = [
        {
            "id": "1",
            "version": "1.4.3",
            "exception": {"class": "java.lang.NullPointerException", "top_app_frame": "a.B.c"},
        }
    ]
    assert fingerprint_of("order", "npe", events) == base


def test_a_caller_with_the_template_and_the_ratio_jump_does_not_outrank_the_deeper_earlier_callee() -> None:
    """Order logs the analysed template, has the biggest error-ratio jump and is named by the
    gateway; payment failed first in every shared trace with the deeper, local cause."""
    evidence = evidence_for_order_symptom()
    evidence.error_ratios = {"order": (0.6, 0.01), "payment": (0.1, 0.05), "gateway": (0.2, 0.1)}
    analysis = build_analysis(evidence, "fp", T0)
    assert [o.service for o in analysis.suspected_origin[:2]] == ["payment", "order"]
    order = analysis.suspected_origin[1]
    assert "logs the template under analysis" in order.reasons
    assert any(r.startswith("highest error ratio jump") for r in order.reasons)


def test_only_fetched_traces_count_for_who_failed_first() -> None:
    """Evidence events whose traces were not looked up (beyond max_traces) must not make the
    analysed service look like the first to fail there."""
    evidence = evidence_for_order_symptom()
    unfetched = [
        ev(
            f"x{n}",
            900_000 + n,
            "order",
            "ERROR",
            f"Payment failed for order ORD-x{n}",
            f"other{n}",
            exception=CALLER_EXC,
            template_id="order-payment-failed",
        )
        for n in range(6)
    ]
    evidence.events = [*unfetched, *evidence.events]
    analysis = build_analysis(evidence, "fp", T0)
    top = analysis.suspected_origin[0]
    assert top.service == "payment"
    assert "first to log an error in 3 of 3 shared traces" in top.reasons


def test_where_services_are_the_analysed_service_and_those_in_its_traces() -> None:
    evidence = evidence_for_order_symptom()
    evidence.summary.services = ["order", "billing"]  # billing logs the same text, unrelated requests
    analysis = build_analysis(evidence, "fp", T0)
    assert analysis.where.services == ["order", "payment", "gateway"]


def test_an_http_error_from_an_external_host_is_a_local_deepest_cause() -> None:
    psp = {
        "class": "org.springframework.web.client.HttpClientErrorException$TooManyRequests",
        "causes": [
            {
                "class": "org.springframework.web.client.HttpClientErrorException$TooManyRequests",
                "message": "429 Too Many Requests from POST https://psp.acme-payments.example/v1/authorizations",
            }
        ],
    }
    t = "t1"
    related = [
        ev(
            "p1",
            100,
            "payment",
            "WARN",
            "PSP rejected authorization: 429",
            t,
            exception=psp,
            template_id="psp",
        ),
        ev("o1", 120, "order", "ERROR", "Payment failed", t, exception=CALLER_EXC, template_id="pf"),
    ]
    summary = TemplateSummary("order", "pf", "Payment failed", "ERROR", 1, T0, T0)
    analysis = build_analysis(Evidence("spike", summary, T0, T0, [related[1]], related), "fp", T0)
    top = analysis.suspected_origin[0]
    assert top.service == "payment"
    assert "deepest cause HttpClientErrorException$TooManyRequests is thrown in payment" in top.reasons
    assert not any(r.startswith("deepest cause") for r in analysis.suspected_origin[1].reasons)


def test_a_callee_that_refuses_connections_and_logs_nothing_is_the_origin() -> None:
    """payment is down (crash-looping): order's first error is a refused call to it and payment
    logs nothing in the trace; order logs the analysed template and the ratio jump."""
    refused = {
        "class": "org.springframework.web.client.ResourceAccessException",
        "causes": [
            {
                "class": "org.springframework.web.client.ResourceAccessException",
                "message": 'I/O error on POST request for "http://payment:8080/api/payments": Connection refused',
            },
            {"class": "java.net.ConnectException", "message": "Connection refused"},
        ],
    }
    related = [
        e
        for n in range(3)
        for e in (
            ev(f"r{n}", n * 1000, "order", "INFO", "Received POST /api/orders", f"t{n}"),
            ev(
                f"o{n}",
                n * 1000 + 5,
                "order",
                "ERROR",
                "Payment failed",
                f"t{n}",
                exception=refused,
                template_id="pf",
            ),
            ev(f"g{n}", n * 1000 + 9, "gateway", "ERROR", "Upstream order-service responded 502", f"t{n}"),
        )
    ]
    summary = TemplateSummary("order", "pf", "Payment failed", "ERROR", 3, T0, T0)
    evidence = Evidence("new_template", summary, T0, T0, [e for e in related if e["id"][0] == "o"], related)
    evidence.error_ratios = {"order": (0.5, 0.0), "gateway": (0.3, 0.0)}
    ranked = build_analysis(evidence, "fp", T0).suspected_origin
    assert ranked[0].service == "payment"
    assert "never reached in 3 of 3 shared traces: the first error is a call to payment" in ranked[0].reasons
    assert "deepest cause ConnectException: callers cannot reach payment" in ranked[0].reasons
