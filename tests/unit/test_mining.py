"""The online template miner: masking rules, stable ids, persistence, and a GA correctness guard."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.bench_templates import grouping_accuracy, load_sample
from loglens.mining import Masker, MaskingConfig, MinerConfig, TemplateMiner, mask_text, template_id_for
from loglens.templates import template_id_for as legacy_template_id_for

DATASETS = Path(
    os.environ.get("LOGLENS_DATASETS") or Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
)


# ------------------------------------------------------------------------------------- masking
# Each rule: (message, expected masked text) for the hit and for a near miss that must stay.

MASK_CASES = [
    # numbers
    ("retry 3 of 10 failed", "retry <*> of <*> failed"),
    ("retry three of ten failed", "retry three of ten failed"),
    # UUID (one token even though it contains "-")
    ("order 3f2a9c1e-1111-4aaa-9bbb-123456789abc done", "order <*> done"),
    ("order not-a-uuid-at-all done", "order not-a-uuid-at-all done"),
    # hex ids
    ("flags 0x1f at deadbeef42", "flags <*> at <*>"),
    ("cafe is a hex-looking word", "cafe is a hex-looking word"),
    # IPv4 + port
    ("connect 10.0.0.5:5432 ok", "connect <*>:<*> ok"),
    ("connect db.internal:port ok", "connect db.internal:port ok"),
    # durations and sizes
    ("timed out after 30000ms, retry in 5s, wrote 1.5GB", "timed out after <*>, retry in <*>, wrote <*>"),
    ("timed out after ms, retry in seconds", "timed out after ms, retry in seconds"),
    # e-mail
    ("mail to a.b@example.com sent", "mail to <*> sent"),
    ("mail to user@localhost sent", "mail to user@localhost sent"),
    # URL
    ("GET https://api.example.com/v1/orders?id=7 failed", "GET <*> failed"),
    ("GET http-client failed", "GET http-client failed"),
    # quoted values
    ("state is 'Active' now, mode \"AUTO\"", 'state is <*> now, mode "<*>"'),
    ("it isn't 'two words' here", "it isn't 'two words' here"),
    # JSON fragment
    ('payload {"orderId": 17, "status": "NEW"} rejected', "payload <*> rejected"),
    ("payload {braces only} rejected", "payload {braces only} rejected"),
    # key=value values: identifiers/paths/hosts are masked; a plain word is left to the miner's
    # per-position diversity rule (small enumerations such as user=root/guest stay apart)
    ("login host=web-a.example ok", "login host=<*> ok"),
    ("login user=alice ok", "login user=alice ok"),
    # comma-separated variable lists are one value (token count independent of the list length)
    ("from 10.0.0.1,10.0.0.2 got", "from <*> got"),
    ("from alpha,beta got", "from alpha,beta got"),
    # number + unit quantities, and an all-variable parenthesized annotation is folded away
    ("sent 1190 bytes (1.16 KB), lifetime <1 sec", "sent <*> bytes (<*>), lifetime <*>"),
    ("VM Started (Lifecycle Event) at LOCAL(0)", "VM Started (Lifecycle Event) at <*>"),
    # booleans / null
    ("cache enabled:true value=null", "cache enabled:<*> value=<*>"),
    ("nullable trueish columns", "nullable trueish columns"),
    # dates and clock times
    ("at Tue Jul  5 13:52:21 2005 and 2024-05-01T10:00:00Z", "at <*> and <*>"),
    ("back in Jul we shipped", "back in Jul we shipped"),
]


@pytest.mark.parametrize(("message", "expected"), MASK_CASES)
def test_masking_rule_and_near_miss(message: str, expected: str) -> None:
    assert mask_text(message) == expected


def test_strict_digit_rule_keeps_identifiers_with_digits() -> None:
    strict = MaskingConfig(digit_rule="strict")
    assert mask_text("link up on awdl0 port 5", strict) == "link up on awdl0 port <*>"
    assert mask_text("link up on awdl0 port 5") == "link up on <*> port <*>"


# ------------------------------------------------------------------------------- clustering / ids


def test_same_statement_different_params_same_template_and_id() -> None:
    m = TemplateMiner()
    a = m.add("Received POST /api/orders for customer 4711 in 35ms")
    b = m.add("Received POST /api/orders for customer 99 in 7ms")
    assert a.template == b.template == "Received POST /api/orders for customer <*> in <*>"
    assert a.template_id == b.template_id
    assert a.cluster_id == b.cluster_id
    assert b.params == ["99", "7ms"]
    assert a.changed and not b.changed


def test_words_that_vary_a_lot_become_wildcards_but_small_enumerations_stay_apart() -> None:
    m = TemplateMiner()
    started = m.add("VM Started (Lifecycle Event)")
    stopped = m.add("VM Stopped (Lifecycle Event)")
    assert started.cluster_id != stopped.cluster_id
    assert stopped.template == "VM Stopped (Lifecycle Event)"
    users = ["alice", "bob", "carol", "dave", "erin", "frank"]
    results = [m.add(f"Session opened for user {u} by admin") for u in users]
    assert len({r.cluster_id for r in results[-2:]}) == 1
    final = m.resolve(results[0].cluster_id)
    assert all(m.resolve(r.cluster_id) == final for r in results)
    assert results[-1].template == "Session opened for user <*> by admin"
    # the first template text stays the stable id, later texts resolve to it as aliases
    first_id = results[0].template_id
    assert results[-1].template_id == first_id
    info = m.lookup(template_id_for(results[-1].template, None, None))
    assert info is not None and info.template_id == first_id


def test_template_id_does_not_depend_on_insertion_order() -> None:
    a, b = TemplateMiner(), TemplateMiner()
    a.add("Connection reset by peer")
    x = a.add("Payment 17 declined after 3 retries")
    y = b.add("Payment 99 declined after 5 retries")  # different first params, fresh miner
    assert x.template_id == y.template_id
    assert x.template_id == template_id_for("Payment <*> declined after <*> retries", None, None)


def test_template_id_for_is_drop_in_for_legacy_function() -> None:
    t = "Order <*> failed"
    assert template_id_for(t, "x.Y", "a.b.C.m") == legacy_template_id_for(t, "x.Y", "a.b.C.m")
    assert template_id_for(t, None, None) == legacy_template_id_for(t, None, None)
    assert template_id_for(t, "x.Y", "a.b.C.m") != template_id_for(t, "x.Z", "a.b.C.m")
    r = TemplateMiner().add("Order 5 failed")
    assert template_id_for(r.stable_template, None, None) == r.template_id


def _stream() -> list[str]:
    lines: list[str] = []
    for i in range(60):
        lines.append(f"User u{i} logged in from 10.0.{i % 7}.{i} in {i * 3}ms")
        lines.append(f"Order {1000 + i} state changed from NEW to {'PAID' if i % 2 else 'CANCELLED'}")
        lines.append(f"HikariPool-1 - Connection is not available, request timed out after {30000 + i}ms.")
        lines.append(f"Cache {['users', 'orders', 'carts', 'prices', 'stock'][i % 5]} evicted {i} entries")
        if i % 10 == 0:
            lines.append(f"Scheduler tick {i} took {i / 10:.1f}s")
    return lines


def test_state_roundtrip_gives_same_ids_for_new_lines() -> None:
    lines = _stream()
    half = len(lines) // 2
    original = TemplateMiner()
    for line in lines[:half]:
        original.add(line)
    snapshot = json.loads(json.dumps(original.to_state()))  # must be JSON-serializable
    restored = TemplateMiner.from_state(snapshot)
    for line in lines[half:]:
        a, b = original.add(line), restored.add(line)
        assert (a.cluster_id, a.template, a.template_id, a.params) == (
            b.cluster_id,
            b.template,
            b.template_id,
            b.params,
        )
    assert [c.template_id for c in original.clusters()] == [c.template_id for c in restored.clusters()]
    assert restored.match(lines[1]) is not None


def test_two_miners_same_stream_same_ids() -> None:
    a, b = TemplateMiner(), TemplateMiner()
    ids_a = [a.add(line).template_id for line in _stream()]
    ids_b = [b.add(line).template_id for line in _stream()]
    assert ids_a == ids_b
    assert sorted(c.template_id for c in a.clusters()) == sorted(c.template_id for c in b.clusters())


def test_lines_with_a_variable_length_list_keep_their_enumerated_cluster() -> None:
    m = TemplateMiner()
    lines = []
    for i in range(8):
        for verb in ("GET", "POST", "DELETE"):
            lines.append(f'10.0.0.{i} "{verb} /v2/{i}/servers HTTP/1.1" status: 200 len: {i} time: 0.{i}')
            lines.append(
                f'10.0.0.{i},10.0.1.{i} "{verb} /v2/{i}/x HTTP/1.1" status: 200 len: {i} time: 0.{i}'
            )
    ids = [m.add(line).cluster_id for line in lines]
    by_verb: dict[str, set[int]] = {}
    for line, cid in zip(lines, ids, strict=True):
        by_verb.setdefault(line.split('"')[1].split()[0], set()).add(m.resolve(cid))
    assert all(len(v) == 1 for v in by_verb.values())
    assert len(set().union(*by_verb.values())) == 3


def test_match_does_not_learn() -> None:
    m = TemplateMiner()
    m.add("Disk /dev/sda1 is 91% full")
    assert m.match("Disk /dev/sdb2 is 97% full") is not None
    assert m.match("Completely different message here") is None
    assert len(m.clusters()) == 1


def test_config_roundtrip() -> None:
    cfg = MinerConfig(sim_threshold=0.6, masking=MaskingConfig(digit_rule="strict"))
    assert MinerConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


# --------------------------------------------------------------------------- GA correctness guard

# Measured with the default config (docs/benchmarks.md, `templates` section) on the corrected
# loghub-2.0 labels: HDFS 1.000, Apache 1.000, OpenSSH 0.999, Proxifier 1.000, OpenStack 0.946,
# Linux 0.998.
GA_FLOORS = {
    "HDFS": 0.98,
    "Apache": 0.98,
    "OpenSSH": 0.97,
    "Proxifier": 0.97,
    "OpenStack": 0.92,
    "Linux": 0.97,
}


@pytest.mark.parametrize("system", sorted(GA_FLOORS))
def test_grouping_accuracy_floor(system: str) -> None:
    assert (DATASETS / "loghub-2.0" / system).is_dir(), f"datasets missing under {DATASETS}"
    sample = load_sample(system, corrected=True, root=DATASETS)
    miner = TemplateMiner()
    ids = [miner.resolve(miner.add(line).cluster_id) for line in sample.contents]
    ids = [miner.resolve(i) for i in ids]
    assert grouping_accuracy(sample.labels, ids) >= GA_FLOORS[system]


def test_grouping_accuracy_definition() -> None:
    gold = ["a", "a", "b", "b", "c"]
    assert grouping_accuracy(gold, [1, 1, 2, 2, 3]) == 1.0
    assert grouping_accuracy(gold, [1, 1, 1, 1, 3]) == pytest.approx(0.2)  # only "c" is exact
    assert grouping_accuracy(gold, [1, 2, 3, 3, 4]) == pytest.approx(0.6)


# --- the tokenizer's shape cache ------------------------------------------------------------------

SHAPE_CASES = [
    "Sent 1190 bytes (1.16 KB) to 10.0.0.1:8080 in 23 ms",
    "Sent 9 bytes (7.99 KB) to 10.0.0.19:80 in 3 ms",
    "user=alice id=42 ids=3,7,9 at 2026-11-25T10:00:00Z",
    "user=bob42 id=17 ids=1,2,3 at 2026-11-24T09:59:59Z",
    "a (1) (2) (3) b",
    "x (1)(2)(3) y",
    "((1))",
    "",
    "   ",
    "k =v1 =v2",
    'Jul  5 13:52:21 CEST 2005 took 250 ms {"a": 1}',
]


@pytest.mark.parametrize("message", SHAPE_CASES)
def test_cached_shape_gives_the_same_tokens_as_a_fresh_tokenizer(message: str) -> None:
    warm = Masker()
    # Same text with other digits first: its shape is cached and then reused for `message`.
    other = message.translate(str.maketrans("0123456789", "9876543210"))
    warm.tokenize(other)
    assert warm.tokenize(message) == Masker().tokenize(message)
    assert warm.tokenize(other) == Masker().tokenize(other)


def test_shape_cache_is_bounded_and_strict_rule_does_not_use_it() -> None:
    masker = Masker()
    masker.shape_cache_size = 3
    for i in range(10):
        masker.tokenize("x" * i + " 1")
    assert len(masker._shapes) <= 3
    strict = Masker(MaskingConfig(digit_rule="strict"))
    strict.tokenize("id 0x1f and 1x1f")
    assert strict._shapes == {}
    # "0x1f" is hex but "1x1f" is not: the strict rule tells digits apart, so no shape sharing
    toks, _, flags = strict.tokenize("id 0x1f and 1x1f")
    assert dict(zip(toks, flags, strict=True))["0x1f"] is True
    assert dict(zip(toks, flags, strict=True))["1x1f"] is False


def test_repeated_message_template_follows_generalization() -> None:
    """The rendered-template cache must not serve a template from before a generalization."""
    miner = TemplateMiner()
    first = miner.add("Cache warmed for region eu in 5 ms")
    again = miner.add("Cache warmed for region eu in 7 ms")
    assert again.template == first.template
    for region in ("us", "ap", "sa", "af", "me", "cn", "in"):
        miner.add(f"Cache warmed for region {region} in 5 ms")
    latest = miner.add("Cache warmed for region eu in 9 ms")
    fresh = TemplateMiner.from_state(miner.to_state()).add("Cache warmed for region eu in 9 ms")
    assert latest.template == fresh.template
    assert latest.template_id == first.template_id  # the id stays stable while the text generalizes
