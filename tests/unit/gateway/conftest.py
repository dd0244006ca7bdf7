"""A real HTTP server on a local port that answers JSON from a table the test can change."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class JsonServer:
    url: str
    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)  # path: (status, body)
    hits: list[str] = field(default_factory=list)

    def answer(self, path: str) -> tuple[int, bytes]:
        self.hits.append(path)
        status, body = self.routes.get(path, (404, {"error": "not_found"}))
        return status, body if isinstance(body, bytes) else json.dumps(body).encode()


@pytest.fixture
def json_server() -> Iterator[JsonServer]:
    state: list[JsonServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = state[0].answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output to the test's own

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(JsonServer(f"http://127.0.0.1:{server.server_address[1]}"))
    # A short poll interval: shutdown() waits for the serving loop's next look.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state[0]
    server.shutdown()
    server.server_close()
    thread.join()
