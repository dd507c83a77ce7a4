"""Redaction of secrets and personal data in log text, before anything is embedded, stored or sent to a model.

A :class:`Redactor` applies named rules (see ``docs/redaction.md`` for the precise definition
of each, with examples and near-misses) in a fixed order, replacing each finding with a
token such as ``[REDACTED:email]``. A value is counted once, under the first rule that
redacts it. Redacting already redacted text changes nothing and counts nothing.

Rules, in application order: ``aws_key``, ``bearer``, ``jwt``, ``secret_kv``, ``email``,
``card``, ``generic_api_key``, ``ip``. All are on by default except ``ip`` (IP addresses are
what on-call engineers debug with; turn the rule on where policy requires it).

The hot path is the consumer (≥ 15,000 events/s per core), so every regex is compiled once,
every rule first does a cheap substring pre-check, and the costly checks (Luhn, Shannon
entropy, base64 decoding, IPv6 parsing) run only on the few candidates a regex finds.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

__all__ = [
    "ALL_RULES",
    "DEFAULT_RULES",
    "DEFAULT_RULES_SPEC",
    "DEFAULT_SKIP_KEYS",
    "RedactionResult",
    "RedactionSettings",
    "Redactor",
    "parse_rules",
]

# Application order: the most specific rules first, so a finding is counted under the most
# precise name (an ``Authorization: Bearer eyJ...`` header is ``bearer``, not ``jwt``).
ALL_RULES: tuple[str, ...] = (
    "aws_key",
    "bearer",
    "jwt",
    "secret_kv",
    "email",
    "card",
    "generic_api_key",
    "ip",
)
DEFAULT_RULES: tuple[str, ...] = tuple(r for r in ALL_RULES if r != "ip")
DEFAULT_RULES_SPEC = ",".join(DEFAULT_RULES)
DEFAULT_REPLACEMENT = "[REDACTED:{rule}]"

# Keys of a log-event document whose string values are structural (ids, names, enums) and
# never carry secrets; :meth:`Redactor.redact_event_fields` skips them (traceId/spanId must
# survive intact for analysis).
DEFAULT_SKIP_KEYS: frozenset[str] = frozenset(
    {
        "@timestamp",
        "level",
        "service",
        "env",
        "version",
        "slot",
        "logger",
        "thread",
        "trace_id",
        "span_id",
        "traceId",
        "spanId",
        "template_id",
        "source_format",
        "tags",
        "flags",
        "kafka",
        "vector",
        "class",
        "frames",
        "top_app_frame",
    }
)


@dataclass(frozen=True, slots=True)
class RedactionResult:
    text: str
    counts: dict[str, int] = field(default_factory=dict)  # rule -> findings; rules with 0 omitted


class RedactionSettings(Protocol):
    """What :meth:`Redactor.from_settings` reads (``LOGLENS_REDACTION_RULES``, ``LOGLENS_REDACT_IPS``)."""

    redaction_rules: str
    redact_ips: bool


def parse_rules(spec: str | None) -> tuple[str, ...]:
    """``"email, jwt,SECRET_KV"`` → ``("email", "jwt", "secret_kv")``.

    ``None`` or ``"default"`` = every rule but ``ip``; ``"all"`` = every rule; ``""`` or
    ``"none"`` = no rule. Unknown names raise ``ValueError`` naming the valid ones.
    """
    if spec is None:
        return DEFAULT_RULES
    names = [p.strip().lower() for p in spec.split(",") if p.strip()]
    if not names or names == ["none"]:
        return ()
    if names == ["default"]:
        return DEFAULT_RULES
    if names == ["all"]:
        return ALL_RULES
    unknown = sorted(set(names) - set(ALL_RULES))
    if unknown:
        raise ValueError(f"unknown redaction rule(s) {unknown}; valid: {', '.join(ALL_RULES)}, all, none")
    return tuple(r for r in ALL_RULES if r in names)


# ----------------------------------------------------------------------------------------------
# Patterns
# ----------------------------------------------------------------------------------------------

# aws_key: access key ids, and the secret access key in key=value / key: value / JSON form.
_AWS_ID = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")
_AWS_SECRET_KV = re.compile(
    r"""(?P<pre>(?i:aws[._-]?secret[._-]?(?:access[._-]?)?key|secret[._-]?access[._-]?key)
        \\?["']?[ \t]*[:=][ \t]*\\?["']?)
        (?P<val>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])""",
    re.VERBOSE,
)

# bearer: "Bearer <token>" anywhere, "bearer=<token>", and "Authorization: Basic <b64>".
_BEARER = re.compile(
    r"""\bbearer(?:[ \t]+|[ \t]*[=:][ \t]*)(?P<tok>[A-Za-z0-9\-._~+/]+=*)
      | \bauthorization\\?["']?[ \t]*[:=][ \t]*\\?["']?[ \t]*basic[ \t]+(?P<basic>[A-Za-z0-9+/]{4,}={0,2})""",
    re.VERBOSE | re.IGNORECASE,
)

# jwt: header.payload.signature, base64url, header starting with eyJ ('{"'); signature may be
# empty (alg "none").
_JWT = re.compile(r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]*")

# secret_kv: a key whose *last word* is a secret word, a separator, a value. Only the value is
# replaced. The key may be dotted/underscored/camelCase (spring.datasource.password,
# client_secret, clientSecret, X-Api-Key) and quoted (JSON, escaped JSON inside `raw`).
_SECRET_WORDS = r"""(?:
      pass(?:word|wd|phrase)
    | (?<!(?-i:[a-z]))pass            # db.pass, DB_PASS, dbPass - but not bypass / compass
    | pwd
    | secret
    | api[_\-]?key
    | private[_\-]?key
    | secret[_\-]?(?:access[_\-]?)?key
    | token
)"""
_SECRET_KV = re.compile(
    r"(?P<key>"
    + _SECRET_WORDS
    + r""")
    (?P<kq>\\?["'])?                                  # closing quote of a quoted key
    (?P<sep>[ \t]*:[ \t]*|[ \t]*=>[ \t]*|=|[ \t]+=[ \t]*)
    (?:
        \\"(?P<eq>(?:\\\\\\"|\\\\\\\\|\\[^"\\]|[^"\\])*)\\"    # \"value\" (escaped JSON in raw)
      | "(?P<dq>(?:[^"\\\n]|\\.)*)"                      # "value" (JSON string rules)
      | '(?P<sq>[^'\n]*)'                                # 'value'
      | (?:(?:bearer|basic)[ \t]+)?
        (?P<uq>[^\s,;&)}\]"'<>\\\[{][^\s,;&)}\]"'<>\\]*)  # bare value, ends at space , ; & ) } ] " ' < >
    )""",
    re.VERBOSE | re.IGNORECASE,
)
# A structured field whose key is itself a secret key (MDC {"apiKey": "..."}): the whole value.
_SECRET_KEY_NAME = re.compile(_SECRET_WORDS + r"$", re.VERBOSE | re.IGNORECASE)


@lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY_NAME.search(key) is not None


# Credentials in a URL: scheme://user:password@host - the password is redacted.
_URL_USERINFO = re.compile(r"(?P<pre>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@\[\]\"']+:)(?P<val>[^\s/@\"']+)@")
_URL_USERINFO_PRE = re.compile(r"://[^\s:/@\[\]\"']+:[^\s/@\"']+@")
_KEY_WORDS = ("apikey", "api_key", "api-key", "privatekey", "private_key", "private-key")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_KV_DELIMITERS = frozenset("{([,;|\"'\n\r\t")
_NOT_A_VALUE = frozenset({"null", "none", "nil", "undefined", "true", "false", "n/a"})
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")

# email: local@domain.tld, the TLD being letters and not a file extension (icon@2x.png).
_FILE_EXTENSIONS = (
    "png|jpe?g|gif|svg|webp|ico|bmp|js|mjs|css|map|html?|xml|json|ya?ml|properties|txt|log|java|class|jar|war"
    "|kt|py|sh|zip|gz|tar|pdf|csv"
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?!(?:" + _FILE_EXTENSIONS + r")(?![A-Za-z0-9\-]))[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)

# Cheap necessary condition: an '@' between a local-part char and "label." of a domain.
_EMAIL_PRE = re.compile(r"@(?<=[A-Za-z0-9._%+\-]@)[A-Za-z0-9][A-Za-z0-9\-]*\.[A-Za-z0-9]")

# card: 13-19 digits as one standalone run, or in groups of 4 (4-4-4-4[-1..3], 4-6-5, 4-6-4)
# with one consistent separator (space or dash) and no further group after the last one.
# Luhn and the network prefix are checked after.
_CARD = re.compile(
    r"""(?<![\w.\-+])(?<!\d[.,])
    (?: \d{13,19}
      | \d{4}(?P<s1>[ \-])\d{4}(?P=s1)\d{4}(?P=s1)\d{4}(?:(?P=s1)\d{1,3})?(?!(?P=s1)\d)
      | \d{4}(?P<s2>[ \-])\d{6}(?P=s2)\d{4,5}(?!(?P=s2)\d)
    )(?![\w\-]|[.,]\d)""",
    re.VERBOSE | re.ASCII,
)
# Pre-check on a byte map of the text (digit -> "0", space/dash -> "-", anything else -> "x"): a
# card needs 13 adjacent digits or 4-4-4 / 4-6-4 digit groups. Three C-speed substring searches.
_CARD_MAP = bytes(0x30 if 0x30 <= i <= 0x39 else 0x2D if i in (0x20, 0x2D) else 0x78 for i in range(256))
_CARD_SHAPES = (b"0" * 13, b"0000-0000-0000", b"0000-000000-0000")
_CARD_PREFIXES = frozenset("23456")  # Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Discover/UnionPay 6

# generic_api_key: candidate tokens of the base64/base64url alphabet, at least 24 characters,
# then judged by _looks_like_secret.
# The scan for runs of >= 24 token characters is the costliest step of all rules, so ASCII text
# (nearly all logs) is mapped to bytes (token char -> "a", else " ") and runs are found with
# C-speed substring searches; other text uses the regex. Boundaries are checked in Python.
_TOKEN = re.compile(r"[A-Za-z0-9+/_\-]{24,}")
_TOKEN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
_TOKEN_MAP = bytes(0x61 if i in _TOKEN_CHARS else 0x20 for i in range(256))
_TOKEN_RUN = b"a" * 24
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX_ID = re.compile(r"[0-9a-fA-F_\-]+")
_DIGIT = re.compile(r"[0-9]")
_KNOWN_KEY_PREFIXES = (
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxr-",
    "xoxs-",
    "sk_live_",
    "rk_live_",
    "sk-proj-",
    "sk-ant-",
    "AIza",
)
_GENERIC_MIN_LEN = 24
_GENERIC_ENTROPY_CAP = 4.2  # bits/char; threshold is min(cap, log2(len) - 0.8)
_GENERIC_MIN_TRANSITIONS = 0.35

# ip: IPv4 dotted quad (not part of a longer dotted run such as an OID or a version
# 1.2.3.4.5); IPv6 candidates are validated by the ipaddress module.
_IPV4 = re.compile(
    r"\d(?<![\w.]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)"
)  # octets <= 255 checked after
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}"
    r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![\w:.])"
)
# Pre-checks anchored on a literal '.' / ':' (fast scan): three dots between digit groups, or
# six hex groups between seven colons (Java prints IPv6 uncompressed: 0:0:0:0:0:0:0:1).
_IPV4_PRE = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d")
_IPV6_FULL_PRE = re.compile(
    r":[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:"
)

_Counts = dict[str, int]
_RuleFn = Callable[[str, str], tuple[str, int]]


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def shannon_entropy(token: str) -> float:
    """Shannon entropy of the token's characters, in bits per character."""
    n = len(token)
    if n == 0:
        return 0.0
    return -sum(c / n * math.log2(c / n) for c in Counter(token).values())


def _class_transitions(token: str) -> float:
    """Share of adjacent character pairs that change class (lower/upper/digit/other)."""

    def cls(ch: str) -> int:
        if ch.islower():
            return 0
        if ch.isupper():
            return 1
        if ch.isdigit():
            return 2
        return 3

    prev = cls(token[0])
    changes = 0
    for ch in token[1:]:
        cur = cls(ch)
        if cur != prev:
            changes += 1
        prev = cur
    return changes / (len(token) - 1)


def _is_base64_of_text(token: str) -> bool:
    """True when the token decodes (base64 or base64url) to ordinary text: printable ASCII
    that is mostly letters and spaces - an encoded sentence or name, not a key."""
    body = token.rstrip("=")
    padded = body + "=" * (-len(body) % 4)
    try:
        if "-" in body or "_" in body:
            raw = base64.urlsafe_b64decode(padded)
        else:
            raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return False
    if not raw:
        return False
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return False
    if not text.isprintable():
        return False
    wordy = sum(1 for ch in text if ch.isalpha() or ch == " ")
    return wordy >= 0.8 * len(text)


def _looks_like_secret(token: str) -> bool:
    """The generic_api_key decision for one candidate token (see docs/redaction.md)."""
    if token.startswith(_KNOWN_KEY_PREFIXES):
        return True
    body = token.rstrip("=")
    n = len(body)
    # Lower case, upper case and a digit: rules out words, CamelCase names, lower-case hex.
    if n < _GENERIC_MIN_LEN or body.islower() or body.isupper() or not _DIGIT.search(body):
        return False
    # Hex ids of any case (traceId, spanId, git SHA, digests) and UUIDs are never secrets here.
    if _HEX_ID.fullmatch(body) or _UUID.search(body):
        return False
    # A path: some /-separated segment is a plain lower-case word (api/v1/Orders/..., src/main/...).
    if "/" in body and any(seg.isalpha() and seg.islower() for seg in body.split("/")):
        return False
    if shannon_entropy(body) < min(_GENERIC_ENTROPY_CAP, math.log2(n) - 0.8):
        return False
    if _class_transitions(body) < _GENERIC_MIN_TRANSITIONS:
        return False
    return not _is_base64_of_text(token)


def _ipv6_ok(candidate: str) -> bool:
    if "::" not in candidate and candidate.count(":") != 7:
        return False
    if not any(ch.isdigit() for ch in candidate):
        return False
    try:
        addr = ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_unspecified)


def _json_context(text: str, start: int, end: int) -> bool:
    """A bare value between ``:``/``[``/``,`` and ``,``/``}``/``]``: a JSON number that must be
    replaced by a JSON string, not by a bare token."""
    i = start - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    if i < 0 or text[i] not in ":[,":
        return False
    j = end
    while j < len(text) and text[j] in " \t":
        j += 1
    return j == len(text) or text[j] in ",}]"


class Redactor:
    """Applies the enabled rules to text and to log-event documents. Immutable, thread-safe."""

    def __init__(
        self,
        rules: Sequence[str] | None = None,
        ip: bool = False,
        replacement: str = DEFAULT_REPLACEMENT,
        skip_keys: Collection[str] = DEFAULT_SKIP_KEYS,
    ) -> None:
        if isinstance(rules, str):
            raise TypeError("rules is a sequence of names; use Redactor.from_spec for 'a,b,c'")
        wanted = set(DEFAULT_RULES if rules is None else (r.strip().lower() for r in rules))
        unknown = sorted(wanted - set(ALL_RULES))
        if unknown:
            raise ValueError(f"unknown redaction rule(s) {unknown}; valid: {', '.join(ALL_RULES)}")
        if ip:
            wanted.add("ip")
        if (
            not replacement
            or any(ch in replacement for ch in '"\\')
            or any(ch.isspace() for ch in replacement)
        ):
            # Quotes/backslashes would break JSON values; whitespace would break idempotence
            # (a bare value ends at whitespace, so the tail of the token would be redacted again).
            raise ValueError(
                f"replacement {replacement!r} must be non-empty, without quotes, backslashes or spaces"
            )
        try:
            self._tokens = {r: replacement.format(rule=r) for r in ALL_RULES}
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"replacement {replacement!r}: only the {{rule}} placeholder is allowed"
            ) from exc
        self.rules: tuple[str, ...] = tuple(r for r in ALL_RULES if r in wanted)
        self.replacement = replacement
        self._skip_keys = frozenset(skip_keys)
        self._token_values = frozenset(self._tokens.values())
        # re.sub templates: the fixed prefix group, then the token (backslashes are refused above).
        self._kv_template = {r: r"\g<pre>" + t for r, t in self._tokens.items()}
        fns: dict[str, _RuleFn] = {
            "aws_key": self._aws_key,
            "bearer": self._bearer,
            "jwt": self._jwt,
            "secret_kv": self._secret_kv,
            "email": self._email,
            "card": self._card,
            "generic_api_key": self._generic_api_key,
            "ip": self._ip,
        }
        self._pipeline: tuple[tuple[str, _RuleFn], ...] = tuple((r, fns[r]) for r in self.rules)
        self._need_lower = bool(wanted & {"aws_key", "bearer", "secret_kv"})
        self._redact_by_key = "secret_kv" in wanted

    @classmethod
    def from_spec(
        cls, spec: str | None, *, ip: bool = False, replacement: str = DEFAULT_REPLACEMENT
    ) -> Redactor:
        """Rules from a comma-separated string (see :func:`parse_rules`); ``ip=True`` adds ``ip``."""
        return cls(parse_rules(spec), ip=ip, replacement=replacement)

    @classmethod
    def from_settings(cls, settings: RedactionSettings) -> Redactor:
        """From ``LOGLENS_REDACTION_RULES`` / ``LOGLENS_REDACT_IPS`` (and, if the settings have it,
        ``LOGLENS_REDACTION_REPLACEMENT``)."""
        replacement = getattr(settings, "redaction_replacement", None) or DEFAULT_REPLACEMENT
        return cls.from_spec(settings.redaction_rules, ip=settings.redact_ips, replacement=replacement)

    def __repr__(self) -> str:
        return f"Redactor(rules={list(self.rules)!r}, replacement={self.replacement!r})"

    # --- public API -----------------------------------------------------------------------------

    def redact(self, text: str) -> RedactionResult:
        counts: _Counts = {}
        return RedactionResult(self._apply(text, counts), counts)

    def redact_event_fields(self, doc: dict[str, Any]) -> dict[str, int]:
        """Redact, in place, every string of a log-event document - ``message``, ``stack_trace``,
        ``raw``, ``template``, ``params[*]``, ``exception.message``, ``exception.causes[*].message``
        and any other string in nested dicts/lists - except under the structural keys in
        ``skip_keys`` (ids, names, timestamps). Returns the findings per rule (0s omitted)."""
        counts: _Counts = {}
        if self._pipeline:
            self._walk_dict(doc, counts)
        return counts

    # --- walking --------------------------------------------------------------------------------

    def _walk_dict(self, doc: dict[str, Any], counts: _Counts) -> None:
        skip = self._skip_keys
        by_key = self._redact_by_key
        for key, value in doc.items():
            if key in skip:
                continue
            if isinstance(value, str):
                if value:
                    if by_key and _is_secret_key(key) and self._kv_value_redactable(value):
                        doc[key] = self._tokens["secret_kv"]
                        counts["secret_kv"] = counts.get("secret_kv", 0) + 1
                        continue
                    new = self._apply(value, counts)
                    if new is not value:
                        doc[key] = new  # same key: safe while iterating
            elif isinstance(value, dict):
                self._walk_dict(value, counts)
            elif isinstance(value, list):
                self._walk_list(value, counts)

    def _walk_list(self, items: list[Any], counts: _Counts) -> None:
        for i, value in enumerate(items):
            if isinstance(value, str):
                if value:
                    new = self._apply(value, counts)
                    if new is not value:
                        items[i] = new
            elif isinstance(value, dict):
                self._walk_dict(value, counts)
            elif isinstance(value, list):
                self._walk_list(value, counts)

    def _apply(self, text: str, counts: _Counts) -> str:
        if not text:
            return text
        # Pre-checks read the original text lower-cased once; they are necessary conditions only,
        # so a stale copy after earlier replacements is still correct.
        low = text.lower() if self._need_lower else text
        for name, fn in self._pipeline:
            new, n = fn(text, low)
            if n:
                counts[name] = counts.get(name, 0) + n
                text = new
        return text

    # --- rules: each returns (text, findings) ---------------------------------------------------

    def _aws_key(self, text: str, low: str) -> tuple[str, int]:
        total = 0
        if "AKIA" in text or "ASIA" in text:
            text, n = _AWS_ID.subn(self._tokens["aws_key"], text)
            total += n
        if "secret" in low and "key" in low:
            text, n = _AWS_SECRET_KV.subn(self._kv_template["aws_key"], text)
            total += n
        return text, total

    def _bearer(self, text: str, low: str) -> tuple[str, int]:
        if "bearer" not in low and "basic" not in low:
            return text, 0
        token = self._tokens["bearer"]
        hits = 0

        def repl(m: re.Match[str]) -> str:
            nonlocal hits
            group = "tok" if m.group("tok") is not None else "basic"
            value = m.group(group)
            if group == "tok":
                # An opaque token, not a word: "Bearer realm=", "bearer token missing" stay.
                if len(value) < 8 or not (
                    any(ch.isdigit() for ch in value)
                    or (any(ch.isupper() for ch in value) and any(ch.islower() for ch in value))
                ):
                    return m.group(0)
            hits += 1
            s, e = m.span(group)
            whole = m.group(0)
            base = m.start()
            return whole[: s - base] + token + whole[e - base :]

        if not _BEARER.search(text):
            return text, 0
        out = _BEARER.sub(repl, text)
        return out, hits

    def _jwt(self, text: str, low: str) -> tuple[str, int]:
        if "eyJ" not in text:
            return text, 0
        return _JWT.subn(self._tokens["jwt"], text)

    def _secret_kv(self, text: str, low: str) -> tuple[str, int]:
        total = 0
        if "://" in text and "@" in text and _URL_USERINFO_PRE.search(text):
            text, n = self._sub_checked(_URL_USERINFO, text, "secret_kv")
            total += n
        if not (
            "pass" in low
            or "secret" in low
            or "token" in low
            or "pwd" in low
            or ("key" in low and any(word in low for word in _KEY_WORDS))
        ):
            return text, total
        if not _SECRET_KV.search(text):
            return text, total
        token = self._tokens["secret_kv"]
        hits = 0

        def repl(m: re.Match[str]) -> str:
            nonlocal hits
            for group in ("eq", "dq", "sq", "uq"):
                value = m.group(group)
                if value is not None:
                    break
            else:  # pragma: no cover - the pattern always sets one value group
                return m.group(0)
            if not self._kv_value_redactable(value):
                return m.group(0)
            kq = m.group("kq")
            if (
                group == "uq"
                and kq is None
                and ":" in m.group("sep")
                and not self._kv_colon_ok(text, m, value)
            ):
                return m.group(0)
            hits += 1
            replacement = token
            if group == "uq" and kq in ('"', '\\"'):
                replacement = f"{kq}{token}{kq}"  # a JSON number/literal becomes a JSON string
            s, e = m.span(group)
            base = m.start()
            whole = m.group(0)
            return whole[: s - base] + replacement + whole[e - base :]

        out = _SECRET_KV.sub(repl, text)
        return out, total + hits

    def _kv_value_redactable(self, value: str) -> bool:
        """Not empty, not already a token, not a null/boolean, not a mask or a ${placeholder}."""
        return not (
            not value
            or value in self._token_values
            or value.lower() in _NOT_A_VALUE
            or value.startswith("${")
            or set(value) <= {"*"}
        )

    @staticmethod
    def _kv_colon_ok(text: str, m: re.Match[str], value: str) -> bool:
        """``word: value`` with a bare single-word key is a key/value pair unless it reads as
        prose ("Invalid token: expired"): the key is preceded by a word and the value is a plain
        lower-case word."""
        start = m.start()
        while start > 0 and text[start - 1] in _KEY_CHARS:
            start -= 1
        key = text[start : m.end("key")]
        compound = any(ch in key for ch in "._-") or any(ch.isupper() for ch in key[1:])
        if compound or not set(value.rstrip(".!?:")) <= _LOWER:
            return True
        i = start - 1
        while i >= 0 and text[i] in " \t":
            i -= 1
        return i < 0 or text[i] in _KV_DELIMITERS

    def _sub_checked(self, pattern: re.Pattern[str], text: str, rule: str) -> tuple[str, int]:
        """Replace group ``val`` (keeping group ``pre``) unless it is already a token."""
        if not pattern.search(text):
            return text, 0
        token = self._tokens[rule]
        done = self._token_values
        hits = 0

        def repl(m: re.Match[str]) -> str:
            nonlocal hits
            if m.group("val") in done:
                return m.group(0)
            hits += 1
            return m.group("pre") + token + m.group(0)[m.end("val") - m.start() :]

        return pattern.sub(repl, text), hits

    def _email(self, text: str, low: str) -> tuple[str, int]:
        if "@" not in text or not _EMAIL_PRE.search(text):
            return text, 0
        return _EMAIL.subn(self._tokens["email"], text)

    def _card(self, text: str, low: str) -> tuple[str, int]:
        shape = text.encode("utf-8", "surrogatepass").translate(_CARD_MAP)
        if not (_CARD_SHAPES[0] in shape or _CARD_SHAPES[1] in shape or _CARD_SHAPES[2] in shape):
            return text, 0
        token = self._tokens["card"]
        hits = 0

        def repl(m: re.Match[str]) -> str:
            nonlocal hits
            raw = m.group(0)
            digits = raw.replace(" ", "").replace("-", "")
            if not (13 <= len(digits) <= 19) or digits[0] not in _CARD_PREFIXES or not _luhn_ok(digits):
                return raw
            hits += 1
            if _json_context(text, m.start(), m.end()):
                return f'"{token}"'
            return token

        out = _CARD.sub(repl, text)
        return out, hits

    def _generic_api_key(self, text: str, low: str) -> tuple[str, int]:
        spans: list[tuple[int, int]] = []
        if text.isascii():
            runs = text.encode("ascii").translate(_TOKEN_MAP)
            i = runs.find(_TOKEN_RUN)
            while i >= 0:
                j = runs.find(b" ", i + 24)
                if j < 0:
                    j = len(runs)
                run = text[i:j]
                # Cheap rejects inline (most runs are hex ids, host names, Java class names).
                if run.startswith(_KNOWN_KEY_PREFIXES) or not (
                    run.islower() or run.isupper() or not _DIGIT.search(run)
                ):
                    self._generic_candidate(text, i, j, spans)
                i = runs.find(_TOKEN_RUN, j)
        else:
            for m in _TOKEN.finditer(text):
                self._generic_candidate(text, m.start(), m.end(), spans)
        if not spans:
            return text, 0
        token = self._tokens["generic_api_key"]
        parts: list[str] = []
        pos = 0
        for start, end in spans:
            parts.append(text[pos:start])
            parts.append(token)
            pos = end
        parts.append(text[pos:])
        return "".join(parts), len(spans)

    @staticmethod
    def _generic_candidate(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
        """Judge the maximal run text[start:end] of token characters; append its span if secret."""
        n = len(text)
        # Whole tokens only: starts with a letter/digit after a non-token char, ends before one
        # (up to two '=' of base64 padding belong to the token).
        if not text[start].isalnum() or (start and text[start - 1].isalnum()):
            return
        run_end = end
        while end < n and end - run_end < 2 and text[end] == "=":
            end += 1
        if end < n and (text[end].isalnum() or text[end] == "="):
            return
        if _looks_like_secret(text[start:end]):
            spans.append((start, end))

    def _ip(self, text: str, low: str) -> tuple[str, int]:
        total = 0
        token = self._tokens["ip"]
        if "." in text and _IPV4_PRE.search(text):
            hits = 0

            def repl4(m: re.Match[str]) -> str:
                nonlocal hits
                value = m.group(0)
                if (
                    value.startswith("127.")
                    or value == "0.0.0.0"
                    or any(int(o) > 255 for o in value.split("."))
                ):
                    return value
                hits += 1
                return token

            text = _IPV4.sub(repl4, text)
            total += hits
        if "::" in text or _IPV6_FULL_PRE.search(text):
            hits6 = 0

            def repl6(m: re.Match[str]) -> str:
                nonlocal hits6
                if _ipv6_ok(m.group(0)):
                    hits6 += 1
                    return token
                return m.group(0)

            text = _IPV6.sub(repl6, text)
            total += hits6
        return text, total
