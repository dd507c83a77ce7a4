"""The ``log-templates`` catalog: one document per template, updated after each indexed batch.

Counts are exact under re-delivery: each template document remembers, per topic-partition, the
highest offset it has counted, and the update script only counts offsets above it. A batch that
is re-delivered after a crash therefore adds nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from consumers.log_embedder.pipeline import IndexAction
from loglens.embedding.cache import dumps_with_vector
from loglens.indices import TEMPLATES_INDEX

MAX_EXAMPLES = 5

UPDATE_SCRIPT = """
if (ctx._source.offsets == null) { ctx._source.offsets = new HashMap(); }
long added = 0;
for (entry in params.parts.entrySet()) {
  String key = entry.getKey();
  long seen = -1L;
  if (ctx._source.offsets.containsKey(key)) { seen = ((Number) ctx._source.offsets.get(key)).longValue(); }
  long top = seen;
  for (def o : entry.getValue()) {
    long v = ((Number) o).longValue();
    if (v > seen) { added++; }
    if (v > top) { top = v; }
  }
  ctx._source.offsets.put(key, top);
}
if (added == 0) { ctx.op = 'noop'; return; }
ctx._source.template = params.template;
ctx._source.count = (ctx._source.count == null ? 0 : ctx._source.count) + added;
if (ctx._source.first_seen == null || params.first_seen.compareTo(ctx._source.first_seen) < 0) {
  ctx._source.first_seen = params.first_seen;
}
if (ctx._source.last_seen == null || params.last_seen.compareTo(ctx._source.last_seen) > 0) {
  ctx._source.last_seen = params.last_seen;
}
for (f in ['services', 'levels', 'versions', 'slots']) {
  if (ctx._source[f] == null) { ctx._source[f] = new ArrayList(); }
  for (def v : params[f]) { if (!ctx._source[f].contains(v)) { ctx._source[f].add(v); } }
}
if (ctx._source.example_ids == null) { ctx._source.example_ids = new ArrayList(); }
for (def e : params.example_ids) {
  if (ctx._source.example_ids.size() < params.max_examples && !ctx._source.example_ids.contains(e)) {
    ctx._source.example_ids.add(e);
  }
}
"""


@dataclass(slots=True)
class TemplateUpdate:
    template_id: str
    template: str
    exception_class: str | None
    top_app_frame: str | None
    first_seen: str
    last_seen: str
    vector: list[float]
    vector_json: str | None = None  # the same vector, JSON-encoded once (see EncodedVector)
    parts: dict[str, list[int]] = field(default_factory=dict)
    services: set[str] = field(default_factory=set)
    levels: set[str] = field(default_factory=set)
    versions: set[str] = field(default_factory=set)
    slots: set[str] = field(default_factory=set)
    example_ids: list[str] = field(default_factory=list)

    def params(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "parts": self.parts,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "services": sorted(self.services),
            "levels": sorted(self.levels),
            "versions": sorted(self.versions),
            "slots": sorted(self.slots),
            "example_ids": self.example_ids[:MAX_EXAMPLES],
            "max_examples": MAX_EXAMPLES,
        }

    def upsert_doc(self) -> dict[str, Any]:
        return {
            "template_id": self.template_id,
            "template": self.template,
            "exception_class": self.exception_class,
            "top_app_frame": self.top_app_frame,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "count": sum(len(v) for v in self.parts.values()),
            "offsets": {k: max(v) for k, v in self.parts.items()},
            "services": sorted(self.services),
            "levels": sorted(self.levels),
            "versions": sorted(self.versions),
            "slots": sorted(self.slots),
            "example_ids": self.example_ids[:MAX_EXAMPLES],
            "vector": self.vector,
        }


def collect_updates(actions: Sequence[IndexAction]) -> dict[str, TemplateUpdate]:
    updates: dict[str, TemplateUpdate] = {}
    for action in actions:
        doc = action.doc
        template_id = doc.get("template_id")
        if not template_id:
            continue
        ts = doc["@timestamp"]
        update = updates.get(template_id)
        if update is None:
            exc = doc.get("exception") or {}
            update = updates[template_id] = TemplateUpdate(
                template_id=template_id,
                template=doc.get("template", ""),
                exception_class=exc.get("class"),
                top_app_frame=exc.get("top_app_frame"),
                first_seen=ts,
                last_seen=ts,
                vector=doc.get("vector", []),
                vector_json=action.vector_json,
            )
        else:
            update.template = doc.get("template", update.template)  # the latest generalization
            if ts < update.first_seen:  # one fixed ISO-8601 UTC form: string order is time order
                update.first_seen = ts
            elif ts > update.last_seen:
                update.last_seen = ts
        kafka = doc.get("kafka", {})
        part = f"{kafka.get('topic')}-{kafka.get('partition')}"
        offsets = update.parts.get(part)
        if offsets is None:
            offsets = update.parts[part] = []
        offsets.append(int(kafka.get("offset", -1)))
        update.services.add(doc["service"])
        update.levels.add(doc["level"])
        version, slot = doc.get("version"), doc.get("slot")
        if version:
            update.versions.add(version)
        if slot:
            update.slots.add(slot)
        if len(update.example_ids) < MAX_EXAMPLES:
            update.example_ids.append(action.doc_id)
    return updates


def catalog_bulk_body(updates: dict[str, TemplateUpdate]) -> str:
    lines: list[str] = []
    for update in updates.values():
        lines.append(
            json.dumps(
                {"update": {"_index": TEMPLATES_INDEX, "_id": update.template_id, "retry_on_conflict": 5}}
            )
        )
        script = {"lang": "painless", "source": UPDATE_SCRIPT, "params": update.params()}
        upsert = dumps_with_vector(update.upsert_doc(), update.vector_json)
        lines.append(f'{{"script":{json.dumps(script, separators=(",", ":"))},"upsert":{upsert}}}')
    return "\n".join(lines) + "\n"
