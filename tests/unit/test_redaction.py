"""Redaction rules: positives, near-misses that must survive, counts, idempotence, JSON validity."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from loglens.events import ExceptionInfo, LogEvent
from loglens.redaction import (
    ALL_RULES,
    DEFAULT_RULES,
    DEFAULT_RULES_SPEC,
    Redactor,
    _luhn_ok,
    parse_rules,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def only(rule: str, **kw: bool) -> Redactor:
    return Redactor(rules=[rule], **kw)


def redacted(rule: str, text: str, **kw: bool) -> bool:
    """Did `rule` alone redact something in `text`?"""
    result = only(rule, **kw).redact(text)
    return result.counts.get(rule, 0) > 0


def check_positive(rule: str, text: str, secret: str, **kw: bool) -> None:
    result = only(rule, **kw).redact(text)
    assert result.counts.get(rule, 0) >= 1, (text, result)
    assert secret not in result.text, result.text
    assert f"[REDACTED:{rule}]" in result.text


def check_negative(text: str) -> None:
    """Near-misses survive the default rule set (and ip) untouched."""
    result = Redactor(ip=True).redact(text)
    assert result.text == text, result
    assert result.counts == {}


# --- email -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Password reset mail sent to john.doe@example.com", "john.doe@example.com"),
        ("notify ops+alerts@acme-shop.co.uk failed", "ops+alerts@acme-shop.co.uk"),
        ('{"customer":"c-17","email":"jane_doe99@mail.example.org"}', "jane_doe99@mail.example.org"),
        ("user=A.B@Example.COM logged in", "A.B@Example.COM"),
    ],
)
def test_email_positive(text: str, secret: str) -> None:
    check_positive("email", text, secret)


@pytest.mark.parametrize(
    "text",
    [
        "Creating proxy for @Transactional method placeOrder",
        "ssh user@host failed",
        "Bean com.acme.order.Order@6d06d69c is not serializable",
        "Serving static asset icon@2x.png",
        "npm resolved lodash@4.17.21",
        "pulled image nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
    ],
)
def test_email_near_misses(text: str) -> None:
    check_negative(text)


# --- bearer / jwt ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abcDEF123456ghiJKL789", "abcDEF123456ghiJKL789"),
        ("callback with bearer=xyzXYZ12345678&state=1", "xyzXYZ12345678"),
        ('{"headers":{"authorization":"Bearer 8f7a6b5c4d3e2f1a"}}', "8f7a6b5c4d3e2f1a"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        (f"Authorization: Bearer {JWT}", JWT),
    ],
)
def test_bearer_positive(text: str, secret: str) -> None:
    check_positive("bearer", text, secret)


@pytest.mark.parametrize(
    "text",
    [
        'WWW-Authenticate: Bearer realm="payments", error="invalid_token"',
        "Missing bearer token in request to /api/orders",
        "Authorization header was Bearer null",
        "Falling back to basic authentication for actuator",
    ],
)
def test_bearer_near_misses(text: str) -> None:
    check_negative(text)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"JWT rejected: {JWT} (expired)", JWT),
        (f'{{"id_token_hint":"{JWT}"}}', JWT),
        ("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. accepted", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."),
    ],
)
def test_jwt_positive(text: str, secret: str) -> None:
    check_positive("jwt", text, secret)


@pytest.mark.parametrize(
    "text",
    [
        "header eyJhbGciOiJIUzI1NiJ9 only",  # one segment
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0 has no signature part",  # two segments
        "keyJar.eyJ.x loaded",  # does not start a token with eyJ
    ],
)
def test_jwt_near_misses(text: str) -> None:
    assert not redacted("jwt", text)
    check_negative(text)


def test_bearer_jwt_counted_once_under_first_rule() -> None:
    result = Redactor().redact(f"Authorization: Bearer {JWT}")
    assert result.counts == {"bearer": 1}
    # With bearer disabled the jwt rule still catches it.
    result = Redactor(rules=["jwt"]).redact(f"Authorization: Bearer {JWT}")
    assert result.counts == {"jwt": 1}
    assert result.text == "Authorization: Bearer [REDACTED:jwt]"


# --- secret_kv ---------------------------------------------------------------------------------

BRIEF_KEYS = [
    "password",
    "pwd",
    "passwd",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "refresh_token",
    "private_key",
    "spring.datasource.password",
]


@pytest.mark.parametrize("key", BRIEF_KEYS)
def test_secret_kv_every_key_in_kv_and_json_form(key: str) -> None:
    red = only("secret_kv")
    for text in (f"{key}=Xy7-secret", f"{key}: Xy7-secret", f'{{"{key}":"Xy7-secret","user":"bob"}}'):
        result = red.redact(text)
        assert result.counts == {"secret_kv": 1}, text
        assert "Xy7-secret" not in result.text
        assert key in result.text  # the key is kept
    assert json.loads(red.redact(f'{{"{key}": "Xy7-secret"}}').text) == {key: "[REDACTED:secret_kv]"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login user=bob password=hunter2 ok", "login user=bob password=[REDACTED:secret_kv] ok"),
        ("DB_PASSWORD=s3cr3t!", "DB_PASSWORD=[REDACTED:secret_kv]"),
        (
            "clientSecret='a b c' grant=client_credentials",
            "clientSecret='[REDACTED:secret_kv]' grant=client_credentials",
        ),
        ("X-Api-Key: 12345abcde", "X-Api-Key: [REDACTED:secret_kv]"),
        (
            "User(name=bob, password=pw1, role=ADMIN)",
            "User(name=bob, password=[REDACTED:secret_kv], role=ADMIN)",
        ),
        ("GET /cb?code=1&access_token=abc.def&x=2", "GET /cb?code=1&access_token=[REDACTED:secret_kv]&x=2"),
        ("db.pass = topsecret", "db.pass = [REDACTED:secret_kv]"),
        (
            "jdbc url postgres://app:s3cr3t@db:5432/orders",
            "jdbc url postgres://app:[REDACTED:secret_kv]@db:5432/orders",
        ),
        ("Token: abc123", "Token: [REDACTED:secret_kv]"),
    ],
)
def test_secret_kv_positive(text: str, expected: str) -> None:
    assert only("secret_kv").redact(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "password_reset_count=3 for customer 42",  # key does not END with a secret word
        "passwordEncoder=BCryptPasswordEncoder",
        "token_type=bearer expires_in=3600",
        "max_tokens=512",
        "bypass=true compass=north",
        "Invalid token: expired",  # prose, not a key/value pair
        "Error validating token: signature verification failed",
        '{"password": null, "token": ""}',
        "spring.datasource.password=******",
        "spring.datasource.password=${DB_PASSWORD}",
        "Password policy updated by admin",
        "https://payment:8080/api/payments",
    ],
)
def test_secret_kv_near_misses(text: str) -> None:
    assert not redacted("secret_kv", text)
    check_negative(text)


def test_secret_kv_json_number_value_stays_valid_json() -> None:
    out = only("secret_kv").redact('{"pin": 1, "pwd": 12345, "otp_secret":987654}').text
    assert json.loads(out) == {"pin": 1, "pwd": "[REDACTED:secret_kv]", "otp_secret": "[REDACTED:secret_kv]"}


def test_secret_kv_escaped_json_inside_raw_stays_valid() -> None:
    message = 'payload {"password":"p\\"q w","user":"bob"}'
    raw = json.dumps({"message": message, "level": "INFO"})
    result = Redactor().redact(raw)
    assert result.counts == {"secret_kv": 1}
    outer = json.loads(result.text)
    inner = json.loads(outer["message"].removeprefix("payload "))
    assert inner == {"password": "[REDACTED:secret_kv]", "user": "bob"}


# --- aws_key -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("using credentials AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE"),
        ("sts session ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
        (f"aws_secret_access_key={AWS_SECRET}", AWS_SECRET),
        (f'{{"secretAccessKey": "{AWS_SECRET}"}}', AWS_SECRET),
        (f"AWS_SECRET_ACCESS_KEY: {AWS_SECRET}", AWS_SECRET),
    ],
)
def test_aws_key_positive(text: str, secret: str) -> None:
    check_positive("aws_key", text, secret)


@pytest.mark.parametrize(
    "text",
    [
        "key AKIAIOSFODNN7EXAMPL is too short",
        "XAKIAIOSFODNN7EXAMPLE is part of a longer word",
        "region ASIA_PACIFIC selected",
        "lower case akiaiosfodnn7example",
    ],
)
def test_aws_key_near_misses(text: str) -> None:
    assert not redacted("aws_key", text)
    check_negative(text)


def test_aws_secret_json_stays_valid() -> None:
    out = Redactor().redact(f'{{"secretAccessKey":"{AWS_SECRET}","region":"eu-central-1"}}')
    assert out.counts == {"aws_key": 1}
    assert json.loads(out.text)["secretAccessKey"] == "[REDACTED:aws_key]"


# --- generic_api_key ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        "X9fK2mQ7pL4vR8tN3wZ6yB1cH5jD0gS2",
        "XwNvc7CMdABGwVsEY3SnSgAQ5Rvnor/+NV/Zi65f",  # base64 of random bytes
        "jihU9pwZ6d97-dsw8AnKeofljTwjv3Y9",  # base64url
        "ghp_R8m2kP0qLx7VtN4cWz9YbF3sJ6dH1gA5eU0o",  # known prefix
        "sk_live_51HqT2LKj8sDf93jKl0pQwErTyUiOp",
        "xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx",
    ],
)
def test_generic_api_key_positive(secret: str) -> None:
    check_positive("generic_api_key", f"calling partner API with key {secret} now", secret)
    check_positive("generic_api_key", f'{{"partnerKey":"{secret}"}}', secret)
    check_positive("generic_api_key", f"sessionKey={secret}", secret)


@pytest.mark.parametrize(
    "text",
    [
        f"traceId={TRACE_ID} spanId={SPAN_ID}",
        "order 3f2a9c1e-1111-4aaa-9bbb-123456789abc created",  # UUID
        "ORDER 3F2A9C1E-1111-4AAA-9BBB-123456789ABC CREATED",
        "deployed commit 3e1b9f6a7c2d4e5f8a9b0c1d2e3f4a5b6c7d8e9f",  # git SHA
        "digest 3E1B9F6A7C2D4E5F8A9B0C1D2E3F4A5B6C7D8E9F",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Bean com.acme.payment.service.PaymentServiceImplementation created",
        "AbstractAutowireCapableBeanFactory InventoryReservationServiceV2Impl",
        "at org.springframework.web.servlet.mvc.method.annotation.ServletInvocableHandlerMethod.invokeAndHandle",
        "rolled /var/log/app/payment-service-2026-11-20.0.log.gz",
        "compiled src/main/java/com/acme/payment/PaymentService2.java",
        "GET http://payment:8080/api/payments/PAY-2026-000042 -> 200",
        "GET https://api.acme.com/api/v1/Orders/ORD12345/Items",
        "b64 b3JkZXIgY3JlYXRlZCBzdWNjZXNzZnVsbHk= and UGF5bWVudCBhdXRob3JpemVkIGZvciBvcmRlcg==",
        "pod payment-7f9c6d8b5-x2k9p on http-nio-8080-exec-10",
        "listener org.springframework.kafka.KafkaListenerEndpointContainer#0-0-C-1",
        "HandleOrderCreatedEventV2Listener_processBatch2",
    ],
)
def test_generic_api_key_near_misses(text: str) -> None:
    assert not redacted("generic_api_key", text)
    check_negative(text)


# --- card --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("charging card 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111"),
        ("card=4111-1111-1111-1111", "4111-1111-1111-1111"),
        ("pan 5500005555555559 declined", "5500005555555559"),
        ("amex 378282246310005", "378282246310005"),
        ("amex grouped 3782 822463 10005", "3782 822463 10005"),
        ("discover 6011111111111117.", "6011111111111117"),
    ],
)
def test_card_positive(text: str, secret: str) -> None:
    assert _luhn_ok(secret.replace(" ", "").replace("-", ""))
    check_positive("card", text, secret)


@pytest.mark.parametrize(
    "text",
    [
        "pan 4111111111111112 rejected",  # 16 digits, fails Luhn
        "order 77734111111111111111 shipped",  # passes-Luhn run embedded in a longer run
        "order ORD4111111111111111 shipped",
        "ts=1714567890123 epochNanos=1714567890123456789",  # no card network starts with 1
        "at 2026-11-20 09:00:01.234 took 1234 ms",
        "Spring Boot 3.2.5, Java 21.0.2",
        "ratio 0.30000000000000004",
        "4111 1111 1111 1111 2222 is 20 digits",
    ],
)
def test_card_near_misses(text: str) -> None:
    assert not redacted("card", text)
    check_negative(text)


def test_card_in_json_number_becomes_json_string() -> None:
    out = Redactor().redact('{"card": 4111111111111111, "amount": 12.5}')
    assert out.counts == {"card": 1}
    assert json.loads(out.text) == {"card": "[REDACTED:card]", "amount": 12.5}


def test_luhn() -> None:
    assert _luhn_ok("4111111111111111") and _luhn_ok("378282246310005")
    assert not _luhn_ok("4111111111111112")


# --- ip ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("connection from 10.0.0.5:5432 refused", "10.0.0.5"),
        ("client 203.0.113.7 blocked", "203.0.113.7"),
        ("peer 2001:db8::8a2e:370:7334 reset", "2001:db8::8a2e:370:7334"),
        ("http://[2001:db8::1]:8080/actuator", "2001:db8::1"),
        ("full fe80:0:0:0:202:b3ff:fe1e:8329 link", "fe80:0:0:0:202:b3ff:fe1e:8329"),
    ],
)
def test_ip_positive_when_enabled(text: str, secret: str) -> None:
    check_positive("ip", text, secret)
    check_positive("ip", text, secret, ip=True)
    # Off by default.
    assert Redactor().redact(text).text == text
    assert Redactor(ip=True).redact(text).counts == {"ip": 1}


@pytest.mark.parametrize(
    "text",
    [
        "listening on 127.0.0.1:8080 and 0.0.0.0:9090 and ::1",
        "request from /0:0:0:0:0:0:0:1 (Tomcat prints IPv6 loopback uncompressed)",
        "version v1.2.3.4 and OID 1.3.6.1.4.1",
        "at 12:30:45.123 invalid 999.1.1.1",
        "mac 00:1a:2b:3c:4d:5e and method ref Foo::bar",
        "Spring Boot 3.2.5",
    ],
)
def test_ip_near_misses(text: str) -> None:
    assert not redacted("ip", text)
    check_negative(text)


# --- cross-cutting -----------------------------------------------------------------------------

MIXED = (
    "user john.doe@example.com paid with 4111 1111 1111 1111 password=hunter2 "
    f"key X9fK2mQ7pL4vR8tN3wZ6yB1cH5jD0gS2 token {JWT} AKIAIOSFODNN7EXAMPLE "
    f"Authorization: Bearer abcDEF123456ghiJKL789 from 10.1.2.3 traceId={TRACE_ID} spanId={SPAN_ID}"
)


def test_counts_per_rule() -> None:
    result = Redactor().redact(MIXED + " cc jane@example.org")
    assert result.counts == {
        "email": 2,
        "card": 1,
        "secret_kv": 1,
        "generic_api_key": 1,
        "jwt": 1,
        "aws_key": 1,
        "bearer": 1,
    }
    assert TRACE_ID in result.text and SPAN_ID in result.text and "10.1.2.3" in result.text
    assert Redactor(ip=True).redact(MIXED).counts["ip"] == 1


CORPUS = [
    MIXED,
    '{"password":"p\\"w","pwd":1234,"card":4111111111111111,"email":"a@b.io","n":[5500005555555559]}',
    json.dumps({"message": 'login {"password":"x y"} for a@b.io', "stack_trace": "x"}),
    "postgres://app:s3cr3t@db.internal:5432/orders?password=abc&sslmode=require",
    "Invalid token: expired. Token: abc123 password: hunter2 secret=${X} api_key=******",
    "clientSecret='a b c' refresh_token=\"r1\" private_key: -----BEGIN",
    "aws_secret_access_key=" + AWS_SECRET + " ASIAY34FZKBOKMUTVV7A",
    "peer 2001:db8::8a2e:370:7334 and 203.0.113.7:443 and [fe80::1]",
    "Authorization: Basic dXNlcjpwYXNzd29yZA== bearer=xyzXYZ12345678",
]


@pytest.mark.parametrize("text", CORPUS)
def test_idempotent(text: str) -> None:
    red = Redactor(ip=True)
    once = red.redact(text)
    assert once.counts
    twice = red.redact(once.text)
    assert twice.text == once.text
    assert twice.counts == {}


def test_idempotent_with_custom_replacement() -> None:
    for replacement in ("<{rule}>", "***", "REDACTED", "x-{rule}"):
        red = Redactor(ip=True, replacement=replacement)
        for text in CORPUS:
            once = red.redact(text).text
            assert red.redact(once).text == once, (replacement, text)


def test_json_input_stays_valid_json() -> None:
    doc = {
        "user": {"email": "jane@example.com", "password": "hunter2", "pin": 1234},
        "payment": {"card": "4111 1111 1111 1111", "cvv_token": 987},
        "headers": {"Authorization": f"Bearer {JWT}", "X-Api-Key": "AbC123xyz"},
        "aws": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": AWS_SECRET},
        "note": 'nested {"token":"t0k3n"}',
        "ids": {"traceId": TRACE_ID, "order": "3f2a9c1e-1111-4aaa-9bbb-123456789abc"},
    }
    for text in (json.dumps(doc), json.dumps(doc, separators=(",", ":")), json.dumps(doc, indent=2)):
        result = Redactor(ip=True).redact(text)
        parsed = json.loads(result.text)
        assert parsed["user"] == {
            "email": "[REDACTED:email]",
            "password": "[REDACTED:secret_kv]",
            "pin": 1234,
        }
        assert parsed["payment"] == {"card": "[REDACTED:card]", "cvv_token": "[REDACTED:secret_kv]"}
        assert parsed["headers"] == {
            "Authorization": "Bearer [REDACTED:bearer]",
            "X-Api-Key": "[REDACTED:secret_kv]",
        }
        assert parsed["aws"] == {"accessKeyId": "[REDACTED:aws_key]", "secretAccessKey": "[REDACTED:aws_key]"}
        assert json.loads(parsed["note"].removeprefix("nested ")) == {"token": "[REDACTED:secret_kv]"}
        assert parsed["ids"] == doc["ids"]


def test_disabled_rules_are_not_applied() -> None:
    result = Redactor(rules=["email"]).redact(MIXED)
    assert result.counts == {"email": 1}
    assert "password=hunter2" in result.text and "4111 1111 1111 1111" in result.text and JWT in result.text
    assert Redactor(rules=[]).redact(MIXED).text == MIXED
    no_cards = Redactor(rules=[r for r in DEFAULT_RULES if r != "card"]).redact(MIXED)
    assert "card" not in no_cards.counts and "4111 1111 1111 1111" in no_cards.text


def test_rule_spec_parsing_and_constructors() -> None:
    assert parse_rules(None) == DEFAULT_RULES == parse_rules("default") == parse_rules(DEFAULT_RULES_SPEC)
    assert "ip" not in DEFAULT_RULES
    assert parse_rules("all") == ALL_RULES
    assert parse_rules("") == () == parse_rules("none") == parse_rules(" , ")
    assert parse_rules(" JWT, email ,jwt") == ("jwt", "email")
    with pytest.raises(ValueError, match="unknown redaction rule"):
        parse_rules("email,phone")
    with pytest.raises(ValueError, match="unknown redaction rule"):
        Redactor(rules=["emails"])
    with pytest.raises(TypeError):
        Redactor(rules="email")
    assert Redactor.from_spec("email", ip=True).rules == ("email", "ip")
    assert Redactor.from_spec("email,ip").rules == ("email", "ip")
    assert Redactor().rules == DEFAULT_RULES
    red = Redactor.from_settings(SimpleNamespace(redaction_rules="secret_kv,card", redact_ips=False))
    assert red.rules == ("secret_kv", "card")
    red = Redactor.from_settings(
        SimpleNamespace(redaction_rules=DEFAULT_RULES_SPEC, redact_ips=True, redaction_replacement="<{rule}>")
    )
    assert red.rules == ALL_RULES
    assert red.redact("a@b.io").text == "<email>"


@pytest.mark.parametrize("bad", ["", "[REDACTED {rule}]", '"{rule}"', "\\{rule}", "{rule}{other}", "{0}"])
def test_bad_replacement_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        Redactor(replacement=bad)


def test_redact_event_fields_on_realistic_event() -> None:
    stack = (
        "org.springframework.web.client.HttpClientErrorException$Unauthorized: 401 for Bearer abcDEF123456ghiJKL789\n"
        "\tat com.acme.payment.psp.PspClient.charge(PspClient.java:88)\n"
        "Caused by: java.lang.IllegalStateException: card 4111111111111111 rejected for jane@example.com\n"
        "\tat com.acme.payment.psp.PspClient.call(PspClient.java:120)\n"
    )
    event = LogEvent(
        timestamp=datetime(2026, 11, 20, 9, 0, 1, tzinfo=UTC),
        service="payment",
        level="ERROR",
        message="Charge failed for jane@example.com with password=hunter2",
        logger="com.acme.payment.service.PaymentService",
        thread="http-nio-8080-exec-7",
        host="payment-7f9c6d8b5-x2k9p",
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
        exception=ExceptionInfo(
            cls="org.springframework.web.client.HttpClientErrorException$Unauthorized",
            message="401 for Bearer abcDEF123456ghiJKL789",
            frames=["com.acme.payment.psp.PspClient.charge"],
            causes=[
                {
                    "class": "org.springframework.web.client.HttpClientErrorException$Unauthorized",
                    "message": "401 for Bearer abcDEF123456ghiJKL789",
                },
                {
                    "class": "java.lang.IllegalStateException",
                    "message": "card 4111111111111111 rejected for jane@example.com",
                },
            ],
            top_app_frame="com.acme.payment.psp.PspClient.charge",
        ),
        stack_trace=stack,
        template="Charge failed for <*> with password=hunter2",
        template_id="a1b2c3d4e5f60718",
        params=["jane@example.com", "AKIAIOSFODNN7EXAMPLE"],
        kafka_topic="app-logs",
        kafka_partition=3,
        kafka_offset=4711,
    )
    doc = event.to_doc(vector=[0.1, 0.2])
    record = {
        "@timestamp": "2026-11-20T09:00:01.000Z",
        "message": event.message,
        "stack_trace": stack,
        "traceId": TRACE_ID,
        "spanId": SPAN_ID,
        "mdc": {"customerEmail": "jane@example.com", "orderId": "ORD-1"},
    }
    doc["raw"] = json.dumps(record)
    doc["mdc"] = {"customerEmail": "jane@example.com", "nested": [{"apiKey": "k-123"}], "n": 5}

    counts = Redactor().redact_event_fields(doc)

    assert doc["message"] == "Charge failed for [REDACTED:email] with password=[REDACTED:secret_kv]"
    assert doc["template"] == "Charge failed for <*> with password=[REDACTED:secret_kv]"
    assert doc["params"] == ["[REDACTED:email]", "[REDACTED:aws_key]"]
    assert doc["exception"]["message"] == "401 for Bearer [REDACTED:bearer]"
    assert doc["exception"]["causes"][1]["message"] == "card [REDACTED:card] rejected for [REDACTED:email]"
    assert doc["exception"]["class"] == event.exception.cls  # type: ignore[union-attr]
    assert "hunter2" not in json.dumps(doc) and "jane@example.com" not in json.dumps(doc)
    assert "4111111111111111" not in json.dumps(doc) and "abcDEF123456ghiJKL789" not in json.dumps(doc)
    assert doc["mdc"] == {
        "customerEmail": "[REDACTED:email]",
        "nested": [{"apiKey": "[REDACTED:secret_kv]"}],
        "n": 5,
    }
    raw = json.loads(doc["raw"])  # still valid JSON
    assert raw["traceId"] == TRACE_ID and raw["mdc"]["orderId"] == "ORD-1"
    # Structural fields are untouched.
    assert doc["trace_id"] == TRACE_ID and doc["span_id"] == SPAN_ID
    assert doc["template_id"] == "a1b2c3d4e5f60718" and doc["vector"] == [0.1, 0.2]
    assert doc["kafka"] == {"topic": "app-logs", "partition": 3, "offset": 4711}
    assert doc["host"] == "payment-7f9c6d8b5-x2k9p" and doc["logger"] == event.logger
    assert counts == {
        # message, causes[1], stack, raw x3 (message, stack, mdc), params[0], mdc
        "email": 8,
        # message, template, raw (message), mdc.nested apiKey
        "secret_kv": 4,
        # exception.message, causes[0], stack, raw (stack)
        "bearer": 4,
        # causes[1], stack, raw (stack)
        "card": 3,
        "aws_key": 1,
    }
    # A second pass finds nothing.
    assert Redactor().redact_event_fields(doc) == {}


def test_redact_event_fields_uses_secret_key_names_of_nested_fields() -> None:
    doc = {
        "message": "ok",
        "mdc": {
            "password": "plain",
            "clientSecret": "c",
            "spring.datasource.password": "p",
            "password_reset_count": "3",
            "tokenCount": "2",
            "db.password": "${DB_PASSWORD}",
            "apiKey": "",
            "token": 42,
        },
    }
    assert Redactor().redact_event_fields(doc) == {"secret_kv": 3}
    assert doc["mdc"] == {
        "password": "[REDACTED:secret_kv]",
        "clientSecret": "[REDACTED:secret_kv]",
        "spring.datasource.password": "[REDACTED:secret_kv]",
        "password_reset_count": "3",
        "tokenCount": "2",
        "db.password": "${DB_PASSWORD}",
        "apiKey": "",
        "token": 42,
    }
    # Disabled secret_kv: key names are not used either.
    doc2 = {"mdc": {"password": "plain"}}
    assert Redactor(rules=["email"]).redact_event_fields(doc2) == {} and doc2["mdc"]["password"] == "plain"


def test_empty_and_plain_text_untouched() -> None:
    red = Redactor(ip=True)
    assert red.redact("") == red.redact("")
    assert red.redact("").text == "" and red.redact("").counts == {}
    plain = "Order ORD-32817504 created for customer 4711 in 35 ms"
    assert red.redact(plain).text is plain
