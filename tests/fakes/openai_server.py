"""A local fake of the OpenAI-compatible API for tests: embeddings and chat completions.

Behaviour is scripted per test through ``/_control`` (or the :class:`FakeOpenAI` helper):
a queue of failure modes consumed one per request — ``ok``, ``slow`` (sleeps), ``429``,
``500``, ``malformed`` (invalid JSON body) — then ``ok`` forever. Every request is recorded
so tests can assert what was sent. Nothing here reaches the internet.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import socket
import threading
import time
from collections import deque
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response


def _vector(text: str, dim: int) -> list[float]:
    """Deterministic pseudo-embedding: the same text always gives the same unit vector."""
    out: list[float] = []
    counter = 0
    while len(out) < dim:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        out.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    vec = out[:dim]
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


class FakeState:
    def __init__(self) -> None:
        self.modes: deque[str] = deque()
        self.slow_seconds = 5.0
        self.requests: list[dict[str, Any]] = []
        self.chat_reply: str | None = None  # JSON text the chat endpoint answers with

    def next_mode(self) -> str:
        return self.modes.popleft() if self.modes else "ok"


def build_app(state: FakeState) -> FastAPI:
    app = FastAPI()

    async def _failure(mode: str) -> Response | None:
        if mode == "slow":
            await asyncio.sleep(state.slow_seconds)
            return None
        if mode == "429":
            return JSONResponse(
                {
                    "error": {
                        "message": "Rate limit reached",
                        "type": "requests",
                        "code": "rate_limit_exceeded",
                    }
                },
                status_code=429,
                headers={"retry-after": "0"},
            )
        if mode == "500":
            return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, status_code=500)
        if mode == "malformed":
            return PlainTextResponse('{"data": [ this is not json', media_type="application/json")
        return None

    @app.post("/_control")
    async def control(request: Request) -> dict[str, Any]:
        body = await request.json()
        state.modes.extend(body.get("modes", []))
        if "slow_seconds" in body:
            state.slow_seconds = float(body["slow_seconds"])
        if "chat_reply" in body:
            state.chat_reply = body["chat_reply"]
        if body.get("reset"):
            state.modes.clear()
            state.requests.clear()
            state.chat_reply = None
        return {"ok": True}

    @app.get("/_requests")
    async def requests() -> list[dict[str, Any]]:
        return state.requests

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        body = await request.json()
        state.requests.append({"path": "/v1/embeddings", "body": body, "headers": dict(request.headers)})
        failure = await _failure(state.next_mode())
        if failure is not None:
            return failure
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dim = int(body.get("dimensions") or 1536)
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(t, dim)} for i, t in enumerate(inputs)
        ]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        state.requests.append(
            {"path": "/v1/chat/completions", "body": body, "headers": dict(request.headers)}
        )
        failure = await _failure(state.next_mode())
        if failure is not None:
            return failure
        content = (
            state.chat_reply
            if state.chat_reply is not None
            else json.dumps({"answer": "ok", "cited_ids": []})
        )
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )

    return app


class FakeOpenAI:
    """Runs the fake in a background thread on a free loopback port."""

    def __init__(self) -> None:
        self.state = FakeState()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        config = uvicorn.Config(build_app(self.state), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

    def script(self, *modes: str, slow_seconds: float | None = None) -> None:
        self.state.modes.extend(modes)
        if slow_seconds is not None:
            self.state.slow_seconds = slow_seconds

    def reset(self) -> None:
        self.state.modes.clear()
        self.state.requests.clear()
        self.state.chat_reply = None


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="fake OpenAI-compatible server for tests")
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    uvicorn.run(build_app(FakeState()), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
