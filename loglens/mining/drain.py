"""Online Drain-style template miner.

One pass, incremental; clusters are only ever created or merged, never split. For each message:

1. **Mask** (:mod:`loglens.mining.masking`): tokens + separators; variable-shaped tokens become ``<*>``.
2. **Exact cache**: a masked token sequence seen before goes straight to its cluster.
3. **Shape index**: the masked sequence with runs of ``<*>`` collapsed (``a <*> <*> b`` -> ``a <*> b``) is
   looked up; a hit joins that group even if the token count differs (variable-length values such as
   names with spaces or optional ``(…)`` parts).
4. **Prefix tree** (Drain): groups are filed under (token count, first ``depth`` tokens). The leaf is
   searched first; if nothing there is similar enough, the other groups with the same token count are
   searched with the stricter ``fallback_threshold`` (so a variable first token that does not look
   variable — a host or program name — does not split a statement), and the group found is then also
   filed under this leaf.
5. **Similarity** is length independent: the share of the group template's *constant* positions the
   message matches (wildcard positions are ignored). The best group at or above the threshold wins;
   otherwise a new group is created.
6. **Wildcard merge**: positions where the message differs from the group template become ``<*>``. If
   the generalized template's shape equals another group's shape, the two groups merge (older wins).
7. **A token is a variable if it varies *enough***: a group position that became ``<*>`` by merging
   (not by masking) is only *confirmed* variable once it has shown more than ``max_enum`` distinct
   values, or once one of its values was a masked variable. Until then, each value is its own
   *cluster* (event) inside the group (``VM Started`` / ``VM Stopped``, ``state 'Active'`` /
   ``state 'Inactive'``). When a position is
   confirmed, the clusters that differed only there merge. So public clusters = (group, values of the
   unconfirmed positions). A member of a shape-merged group with another token count is projected
   onto the group's positions (constants matched in order, wildcard runs anchored at both ends).

**Template identity.** Templates evolve as wildcards merge, so the *current* template text cannot be
the id. A cluster's stable id is the hash of its *first* template text (the masked first message of the
cluster), ``template_id_for(stable_template, None, None)``; it never changes afterwards. Every template
text the cluster has had, and the ids of clusters merged into it, are kept as aliases, so an id stored
earlier can always be resolved (:meth:`TemplateMiner.lookup`). The id is not an insertion counter: the
same statement gets the same id in every process whenever its first masked form is the same, which is
always the case for processes that load a shared snapshot (:meth:`to_state` / :meth:`from_state`) and,
for a new statement, whenever its variables are maskable (numbers, ids, IPs, …). ``cluster_id`` ints are
local to one miner lineage (a snapshot and its continuations) and should not be stored elsewhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from loglens.mining.masking import WILDCARD, Masker, MaskingConfig, render
from loglens.templates import template_id_for  # the one definition of template identity

STATE_VERSION = 1


@dataclass(frozen=True)
class MinerConfig:
    """One configuration for every log source (no per-system knobs needed)."""

    sim_threshold: float = 0.5
    # a group filed under another prefix leaf must be at least this similar (first tokens differ)
    fallback_threshold: float = 0.8
    depth: int = 1  # number of leading tokens used as prefix-tree keys after the token count
    # a merged-in position is a confirmed variable once it has shown more than this many values
    max_enum: int = 3
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    merge_shapes: bool = True  # collapse-<*> shape index and shape-collision merges
    cache_size: int = 200_000  # exact masked-sequence cache entries (cleared when full)
    max_tokens: int = 256  # messages are truncated to this many tokens for clustering

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MinerConfig:
        d = dict(data)
        d["masking"] = MaskingConfig(**d.get("masking", {}))
        return cls(**d)


@dataclass(frozen=True)
class MatchResult:
    cluster_id: int
    template: str  # current template text with <*> wildcards
    template_id: str  # stable id (hash of the cluster's first template text)
    params: list[str]  # the message's values at the template's wildcard positions
    changed: bool  # a cluster was created, generalized or merged by this message
    stable_template: str = ""  # the text template_id hashes; pass it to template_id_for(...)


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: int
    template: str
    template_id: str
    size: int
    aliases: tuple[str, ...]


class _Group:
    """A Drain cluster: one token-position template. Holds one or more public clusters (events)."""

    __slots__ = ("confirmed", "const", "events", "gid", "key_map", "seps", "target", "tokens", "values")

    def __init__(self, gid: int, tokens: list[str], seps: list[str]) -> None:
        self.gid = gid
        self.tokens = tokens
        self.seps = seps
        self.const = sum(1 for t in tokens if t != WILDCARD)
        self.values: dict[int, list[str]] = {}  # merged-in position -> distinct values (bounded)
        self.confirmed: set[int] = set()  # positions confirmed variable
        self.events: list[int] = []  # live event ids, oldest first
        self.key_map: dict[tuple[str, ...], int] = {}
        # a group of another length whose shape equals this one's: it keeps matching messages of its
        # length, but its clusters live in the target group
        self.target: int | None = None

    def open_positions(self) -> list[int]:
        return sorted(p for p in self.values if p not in self.confirmed)


class _Event:
    """A public cluster: a group plus the values at the group's unconfirmed positions."""

    __slots__ = ("aliases", "eid", "gid", "rep", "size", "stable_template", "template_id")

    def __init__(self, eid: int, gid: int, rep: tuple[str, ...], stable_template: str) -> None:
        self.eid = eid
        self.gid = gid
        self.rep = rep  # masked tokens of the first message, aligned to the group's positions
        self.size = 0
        self.stable_template = stable_template
        self.template_id = template_id_for(stable_template, None, None)
        self.aliases: list[str] = []


def _shape(tokens: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    prev_wild = False
    for t in tokens:
        if t == WILDCARD:
            if prev_wild:
                continue
            prev_wild = True
        else:
            prev_wild = False
        out.append(t)
    return tuple(out)


def _align(template: list[str], masked: list[str]) -> list[str]:
    """Project a message of another token count onto a template's positions.

    The template's constants are found in order in the message; each run of template wildcards
    takes the message tokens between the neighbouring constants, anchored at both ends (the values
    next to a constant are the ones that line up; a variable-length value such as a list or a name
    with spaces stretches the middle). Positions with no counterpart get ``<*>``. If the constants
    cannot be found, the template itself is returned (the old behaviour).
    """
    out = list(template)
    j = 0
    n = len(masked)
    run: list[int] = []

    def fill(run: list[int], span: list[str]) -> None:
        k = len(run)
        if not k:
            return
        if len(span) == k:
            for p, t in zip(run, span, strict=True):
                out[p] = t
            return
        if not span:
            return
        for i, p in enumerate(run[:-1]):
            if i < len(span) - 1:
                out[p] = span[i]
        out[run[-1]] = span[-1]

    for i, t in enumerate(template):
        if t == WILDCARD:
            run.append(i)
            continue
        start = j
        while j < n and masked[j] != t:
            j += 1
        if j == n:
            return list(template)
        fill(run, masked[start:j])
        run = []
        j += 1
    fill(run, masked[j:])
    return out


LeafKey = tuple[int, tuple[str, ...]]


class TemplateMiner:
    """Online Drain-style miner. Not thread-safe; use one instance per consumer task."""

    def __init__(self, config: MinerConfig | None = None) -> None:
        self.config = config or MinerConfig()
        self.masker = Masker(self.config.masking)
        self._groups: dict[int, _Group] = {}  # live groups
        self._gparent: dict[int, int] = {}  # merged group -> survivor
        self._events: dict[int, _Event] = {}  # live events (public clusters)
        self._eparent: dict[int, int] = {}  # merged event -> survivor
        self._leaves: dict[LeafKey, list[int]] = {}
        self._by_len: dict[int, list[int]] = {}
        self._cache: dict[tuple[str, ...], int] = {}  # masked tokens -> event id
        self._shapes: dict[tuple[str, ...], int] = {}  # template shape -> group id
        self._alias_index: dict[str, int] = {}  # template id / alias -> event id
        # event id -> (its group, rendered template, open positions); valid until the next message
        # that is not a cache hit (only those change groups), so a repeat costs no re-rendering
        self._views: dict[int, tuple[_Group, str, frozenset[int]]] = {}
        self._next_gid = 1
        self._next_eid = 1

    # ------------------------------------------------------------------ public API

    def add(self, message: str) -> MatchResult:
        """Learn from one message and return its cluster."""
        masked, seps, orig = self._mask(message)
        key = tuple(masked)
        eid = self._cache.get(key)
        if eid is not None:
            ev = self._events[self._eresolve(eid)]
            ev.size += 1
            return self._result(ev, masked, orig, changed=False)
        self._views.clear()
        changed = False
        g = self._find(masked, key, learning=True)
        if g is None:
            g = self._create_group(masked, seps)
            changed = True
        elif len(g.tokens) == len(masked):
            if self._generalize(g, masked):
                changed = True
                if self.config.merge_shapes:
                    g = self._merge_on_shape(g)
        ev, created, merged = self._event_for(self._target(g), masked)
        changed = changed or created or merged
        ev.size += 1
        if len(self._cache) >= self.config.cache_size:
            self._cache.clear()
        self._cache[key] = ev.eid
        return self._result(ev, masked, orig, changed=changed)

    def match(self, message: str) -> MatchResult | None:
        """The cluster this message belongs to, without learning (None if no cluster fits)."""
        masked, _, orig = self._mask(message)
        key = tuple(masked)
        eid = self._cache.get(key)
        if eid is not None:
            return self._result(self._events[self._eresolve(eid)], masked, orig, changed=False)
        g = self._find(masked, key, learning=False)
        if g is None:
            return None
        g = self._target(g)
        ekey = self._event_key(g, masked if len(masked) == len(g.tokens) else g.tokens)
        eid = g.key_map.get(ekey)
        if eid is None:
            return None
        return self._result(self._events[self._eresolve(eid)], masked, orig, changed=False)

    def cluster_count(self) -> int:
        """How many live clusters (templates) there are; cheap, for metrics."""
        return len(self._events)

    def clusters(self) -> list[ClusterInfo]:
        return [self._info(ev) for ev in self._events.values()]

    def resolve(self, cluster_id: int) -> int:
        """The live cluster a (possibly merged-away) cluster id now belongs to."""
        return self._eresolve(cluster_id)

    def lookup(self, template_id: str) -> ClusterInfo | None:
        """The live cluster for a stable id or any alias (an earlier template text or a merged cluster)."""
        eid = self._alias_index.get(template_id)
        if eid is None:
            return None
        return self._info(self._events[self._eresolve(eid)])

    # ------------------------------------------------------------------ internals: lookup

    @staticmethod
    def _resolve_in(parent: dict[int, int], x: int) -> int:
        root = x
        while root in parent:
            root = parent[root]
        while x in parent and parent[x] != root:
            nxt = parent[x]
            parent[x] = root
            x = nxt
        return root

    def _eresolve(self, eid: int) -> int:
        return self._resolve_in(self._eparent, eid)

    def _gresolve(self, gid: int) -> int:
        return self._resolve_in(self._gparent, gid)

    def _target(self, g: _Group) -> _Group:
        seen = 0
        while g.target is not None and seen < 64:
            g = self._groups[self._gresolve(g.target)]
            seen += 1
        return g

    def _mask(self, message: str) -> tuple[list[str], list[str], list[str]]:
        masked, seps, orig = self.masker.mask(message)
        limit = self.config.max_tokens
        if len(masked) > limit:
            masked, orig = masked[:limit], orig[:limit]
            seps = [*seps[:limit], ""]
        return masked, seps, orig

    def _leaf_key(self, masked: list[str]) -> LeafKey:
        return (len(masked), tuple(masked[: self.config.depth]))

    def _find(self, masked: list[str], key: tuple[str, ...], learning: bool) -> _Group | None:
        if self.config.merge_shapes:
            sid = self._shapes.get(_shape(key))
            if sid is not None:
                return self._groups[self._gresolve(sid)]
        leaf_key = self._leaf_key(masked)
        leaf = self._leaves.get(leaf_key, [])
        best = self._best(masked, leaf, self.config.sim_threshold)
        if best is None and self.config.fallback_threshold <= 1.0:
            rest = [gid for gid in self._by_len.get(len(masked), []) if gid not in leaf]
            best = self._best(masked, rest, self.config.fallback_threshold)
            if best is not None and learning:
                self._leaves.setdefault(leaf_key, []).append(best.gid)
        return best

    def _best(self, masked: list[str], candidates: list[int], th: float) -> _Group | None:
        best: _Group | None = None
        best_score = (-1.0, -1)
        groups = self._groups
        for gid in candidates:
            g = groups[gid]
            eq = 0
            for a, b in zip(g.tokens, masked, strict=True):
                if a == b and a != WILDCARD:
                    eq += 1
            sim = eq / g.const if g.const else 0.0
            if sim >= th and (sim, eq) > best_score:
                best, best_score = g, (sim, eq)
        return best

    # ------------------------------------------------------------------ internals: groups

    def _create_group(self, masked: list[str], seps: list[str]) -> _Group:
        g = _Group(self._next_gid, list(masked), seps)
        self._next_gid += 1
        self._groups[g.gid] = g
        self._leaves.setdefault(self._leaf_key(masked), []).append(g.gid)
        self._by_len.setdefault(len(masked), []).append(g.gid)
        if self.config.merge_shapes:
            self._shapes.setdefault(_shape(masked), g.gid)
        return g

    def _generalize(self, g: _Group, masked: list[str] | tuple[str, ...]) -> bool:
        """Turn differing positions into wildcards; they start as *open* (enumerated) positions."""
        toks = g.tokens
        new_open: list[tuple[int, str]] = []
        for i, (a, b) in enumerate(zip(toks, masked, strict=True)):
            if a != b and a != WILDCARD:
                new_open.append((i, a))
                toks[i] = WILDCARD
        if not new_open:
            return False
        g.const = sum(1 for t in toks if t != WILDCARD)
        for pos, old in new_open:
            g.values[pos] = [old]
        # existing events all had the old constant at the new positions: their keys get it, no split
        self._rekey(g)
        return True

    def _merge_subsumed(self, g: _Group) -> _Group:
        """Merge same-length groups whose template g's generalized template now covers."""
        if not g.const:
            return g
        toks = g.tokens
        for gid in list(self._by_len.get(len(toks), [])):
            h = self._groups.get(gid)
            if h is None or h is g:
                continue
            if all(a == WILDCARD or a == b for a, b in zip(toks, h.tokens, strict=True)):
                keep, drop = (h, g) if h.gid < g.gid else (g, h)
                self._absorb(keep, drop)
                g = keep
                toks = g.tokens
        return g

    def _merge_on_shape(self, g: _Group) -> _Group:
        g = self._merge_subsumed(g)
        shape = _shape(g.tokens)
        other_id = self._shapes.get(shape)
        if other_id is None:
            self._shapes[shape] = g.gid
            return g
        other = self._groups[self._gresolve(other_id)]
        if self._target(other) is self._target(g):
            return g
        keep, drop = (other, g) if other.gid < g.gid else (g, other)
        if len(keep.tokens) != len(drop.tokens):
            self._link(self._target(keep), self._target(drop))
            return g
        self._absorb(keep, drop)
        self._shapes[shape] = keep.gid
        return keep

    def _link(self, keep: _Group, drop: _Group) -> None:
        """Same shape, different token counts: drop keeps matching, its clusters move to keep."""
        if keep is drop:
            return
        if len(keep.tokens) == len(drop.tokens):
            if keep.gid < drop.gid:
                self._absorb(keep, drop)
            else:
                self._absorb(drop, keep)
            return
        if drop.gid < keep.gid:
            keep, drop = drop, keep
        drop.target = keep.gid
        self._move_events(drop, keep)

    def _move_events(self, src: _Group, dst: _Group) -> None:
        """Clusters of a different-length group move to dst; they align as dst's template."""
        for eid in src.events:
            ev = self._events[eid]
            ev.gid = dst.gid
            ev.rep = tuple(dst.tokens)
            dst.events.append(eid)
        src.events = []
        src.key_map = {}
        self._rekey(dst)

    def _absorb(self, keep: _Group, drop: _Group) -> None:
        """Merge same-length group drop into keep (templates generalize, enumerations combine)."""
        self._generalize(keep, drop.tokens)
        keep.confirmed |= drop.confirmed
        for pos, vals in drop.values.items():
            mine = keep.values.setdefault(pos, [])
            for v in vals:
                if v not in mine:
                    mine.append(v)
        for eid in drop.events:
            rep = self._events[eid].rep
            for pos, mine in keep.values.items():
                if pos not in keep.confirmed and rep[pos] not in mine:
                    mine.append(rep[pos])
        for eid in drop.events:
            self._events[eid].gid = keep.gid
            keep.events.append(eid)
        if drop.target is not None and keep.target is None and self._target(drop) is not keep:
            keep.target = drop.target
        for other in self._groups.values():
            if other.target == drop.gid:
                other.target = keep.gid
        self._gparent[drop.gid] = keep.gid
        del self._groups[drop.gid]
        for leaf in self._leaves.values():
            if drop.gid in leaf:
                leaf.remove(drop.gid)
                if keep.gid not in leaf:
                    leaf.append(keep.gid)
        self._by_len[len(drop.tokens)].remove(drop.gid)
        self._confirm_overflow(keep)
        self._rekey(keep)
        target = self._target(keep)
        if target is not keep:  # keep's clusters belong to its target group
            self._move_events(keep, target)

    # ------------------------------------------------------------------ internals: events

    def _event_key(self, g: _Group, masked: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        if not masked:
            return ()
        return tuple(masked[p] for p in g.open_positions())

    def _event_for(self, g: _Group, masked: list[str]) -> tuple[_Event, bool, bool]:
        """(event, created, merged) for a message already merged into group g."""
        merged = False
        if len(masked) != len(g.tokens):
            # a different-length member of a shape-merged group: project it onto the group's
            # positions so its values at enumerated positions still pick its cluster
            masked = _align(g.tokens, masked)
        if g.values:
            overflow = False
            for pos in g.open_positions():
                vals = g.values[pos]
                v = masked[pos]
                if v not in vals:
                    vals.append(v)
                    if len(vals) > self.config.max_enum or v == WILDCARD:
                        overflow = True
            if overflow:
                self._confirm_overflow(g)
                merged = self._rekey(g)
        key = self._event_key(g, masked)
        eid = g.key_map.get(key)
        if eid is not None:
            return self._events[eid], False, merged
        text_tokens = list(g.tokens)
        for p in g.open_positions():
            text_tokens[p] = masked[p]
        ev = _Event(self._next_eid, g.gid, tuple(masked), render(text_tokens, g.seps))
        self._next_eid += 1
        self._events[ev.eid] = ev
        g.events.append(ev.eid)
        g.key_map[key] = ev.eid
        self._alias_index.setdefault(ev.template_id, ev.eid)
        return ev, True, merged

    def _confirm_overflow(self, g: _Group) -> None:
        # A position is a confirmed variable once it showed more than max_enum values, or once one of
        # its values was itself masked as a variable (a number, id, path...): the slot of a statement
        # that holds a number in one occurrence is a parameter slot, not a small set of keywords.
        for pos, vals in g.values.items():
            if len(vals) > self.config.max_enum or WILDCARD in vals:
                g.confirmed.add(pos)
                vals.clear()  # no longer needed

    def _rekey(self, g: _Group) -> bool:
        """Recompute event keys of a group; events whose keys now coincide merge (oldest wins)."""
        open_pos = g.open_positions()
        key_map: dict[tuple[str, ...], int] = {}
        live: list[int] = []
        merged = False
        for eid in g.events:
            ev = self._events[eid]
            key = tuple(ev.rep[p] for p in open_pos)
            first = key_map.get(key)
            if first is None:
                key_map[key] = eid
                live.append(eid)
            else:
                self._merge_events(self._events[first], ev)
                merged = True
        g.events = live
        g.key_map = key_map
        return merged

    def _merge_events(self, keep: _Event, drop: _Event) -> None:
        keep.size += drop.size
        for alias in [drop.template_id, *drop.aliases]:
            if alias not in keep.aliases and alias != keep.template_id:
                keep.aliases.append(alias)
            self._alias_index[alias] = keep.eid
        self._eparent[drop.eid] = keep.eid
        del self._events[drop.eid]

    def _event_template(self, ev: _Event) -> str:
        g = self._groups[self._gresolve(ev.gid)]
        toks = list(g.tokens)
        for p in g.open_positions():
            toks[p] = ev.rep[p]
        return render(toks, g.seps)

    def _info(self, ev: _Event) -> ClusterInfo:
        return ClusterInfo(ev.eid, self._event_template(ev), ev.template_id, ev.size, tuple(ev.aliases))

    def _result(self, ev: _Event, masked: list[str], orig: list[str], changed: bool) -> MatchResult:
        view = self._views.get(ev.eid)
        if view is None:
            g = self._groups[self._gresolve(ev.gid)]
            view = self._views[ev.eid] = (g, self._event_template(ev), frozenset(g.open_positions()))
        g, template, open_pos = view
        if changed:
            alias = template_id_for(template, None, None)
            if alias != ev.template_id and alias not in self._alias_index:
                self._alias_index[alias] = ev.eid
                ev.aliases.append(alias)
        if len(g.tokens) == len(orig):
            params = [
                o
                for i, (t, o) in enumerate(zip(g.tokens, orig, strict=True))
                if t == WILDCARD and i not in open_pos
            ]
        else:
            params = [o for t, o in zip(masked, orig, strict=True) if t == WILDCARD]
        return MatchResult(ev.eid, template, ev.template_id, params, changed, ev.stable_template)

    # ------------------------------------------------------------------ persistence

    def to_state(self) -> dict[str, Any]:
        """A JSON-serializable snapshot (config, groups, clusters, tree, caches)."""
        return {
            "version": STATE_VERSION,
            "config": self.config.to_dict(),
            "next_gid": self._next_gid,
            "next_eid": self._next_eid,
            "groups": [
                {
                    "id": g.gid,
                    "tokens": g.tokens,
                    "seps": g.seps,
                    "values": [[p, v] for p, v in g.values.items()],
                    "confirmed": sorted(g.confirmed),
                    "events": g.events,
                    "target": g.target,
                }
                for g in self._groups.values()
            ],
            "events": [
                {
                    "id": ev.eid,
                    "group": ev.gid,
                    "rep": list(ev.rep),
                    "size": ev.size,
                    "stable_template": ev.stable_template,
                    "aliases": ev.aliases,
                }
                for ev in self._events.values()
            ],
            "gparent": [[k, v] for k, v in self._gparent.items()],
            "eparent": [[k, v] for k, v in self._eparent.items()],
            "leaves": [[n, list(prefix), ids] for (n, prefix), ids in self._leaves.items()],
            "by_len": [[n, ids] for n, ids in self._by_len.items()],
            "shapes": [[list(s), gid] for s, gid in self._shapes.items()],
            "cache": [[list(k), eid] for k, eid in self._cache.items()],
            "aliases": [[a, eid] for a, eid in self._alias_index.items()],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TemplateMiner:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported miner state version {state.get('version')!r}")
        m = cls(MinerConfig.from_dict(state["config"]))
        m._next_gid = int(state["next_gid"])
        m._next_eid = int(state["next_eid"])
        for d in state["events"]:
            ev = _Event(int(d["id"]), int(d["group"]), tuple(d["rep"]), str(d["stable_template"]))
            ev.size = int(d["size"])
            ev.aliases = [str(a) for a in d["aliases"]]
            m._events[ev.eid] = ev
        for d in state["groups"]:
            g = _Group(int(d["id"]), [str(t) for t in d["tokens"]], [str(s) for s in d["seps"]])
            g.values = {int(p): [str(x) for x in v] for p, v in d["values"]}
            g.confirmed = {int(p) for p in d["confirmed"]}
            g.events = [int(e) for e in d["events"]]
            g.target = None if d.get("target") is None else int(d["target"])
            m._groups[g.gid] = g
            m._rekey(g)
        m._gparent = {int(k): int(v) for k, v in state["gparent"]}
        m._eparent = {int(k): int(v) for k, v in state["eparent"]}
        m._leaves = {(int(n), tuple(p)): [int(i) for i in ids] for n, p, ids in state["leaves"]}
        m._by_len = {int(n): [int(i) for i in ids] for n, ids in state["by_len"]}
        m._shapes = {tuple(s): int(gid) for s, gid in state["shapes"]}
        m._cache = {tuple(k): int(eid) for k, eid in state["cache"]}
        m._alias_index = {str(a): int(eid) for a, eid in state["aliases"]}
        return m
