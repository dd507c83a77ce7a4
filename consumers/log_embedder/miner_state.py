"""Persisting the template miner's state in OpenSearch (index ``loglens-state``).

Every consumer process of a group loads the same snapshot at start and saves its own now and
then, so template ids survive restarts and processes agree on the clusters learned so far.
The exact-match cache is left out of the snapshot: it is rebuilt as messages arrive.
"""

from __future__ import annotations

import json
from typing import Any

import structlog

from loglens.indices import STATE_INDEX
from loglens.mining import TemplateMiner

log = structlog.get_logger("log_embedder")


def _doc_id(group: str) -> str:
    return f"miner-{group}"


async def load_miner(client: Any, group: str) -> TemplateMiner:
    try:
        resp = await client.get(index=STATE_INDEX, id=_doc_id(group))
    except Exception as exc:  # missing index/doc on a fresh cluster: start empty
        if getattr(exc, "status_code", None) != 404:
            log.warning("miner_state_unreadable", error=str(exc)[:200])
        return TemplateMiner()
    try:
        miner = TemplateMiner.from_state(json.loads(resp["_source"]["state"]))
    except (KeyError, ValueError, TypeError) as exc:
        log.warning("miner_state_incompatible", error=str(exc)[:200])
        return TemplateMiner()
    log.info("miner_state_loaded", clusters=len(miner.clusters()))
    return miner


def snapshot(miner: TemplateMiner) -> str:
    state = miner.to_state()
    state["cache"] = []
    return json.dumps(state, separators=(",", ":"))


async def save_miner(client: Any, group: str, state_json: str) -> None:
    await client.index(index=STATE_INDEX, id=_doc_id(group), body={"kind": "miner", "state": state_json})
