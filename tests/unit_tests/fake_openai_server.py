"""FakeServer: a loopback OpenAI-compatible HTTP server with canned answers, for backend tests.

Shared by test_openai_compat.py and test_served_concurrency.py (imported as a plain module:
pytest puts this folder on sys.path). Every POST body is recorded and answered by
``handler(body) -> (status, json)``; the server counts the requests it is answering at once
(``in_flight``, ``max_in_flight``), and ``wait_until`` lets a handler hold a request until
the others it expects have arrived, so overlap is observed without timing assumptions. Hold
on ``max_in_flight`` (it never drops), not ``in_flight``: once the first held request is
answered, ``in_flight`` drops and the others would wait for a count that never comes back.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


class FakeServer:
    """A loopback HTTP server; ``handler(body) -> (status, json)`` answers POSTs.

    Attributes:
        requests: Every POST body, in arrival order (with ``_path`` added).
        in_flight: POSTs received and not yet answered (never more than the client has
            in flight: it drops before the answer is sent).
        max_in_flight: The most POSTs ever in flight at once.
        answered: POSTs answered so far.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.handler: Handler = lambda body: (500, {"error": "no handler"})
        self.models: dict[str, Any] = {"object": "list", "data": [{"id": "fake"}]}
        self.in_flight = 0
        self.max_in_flight = 0
        self.answered = 0
        self._cond = threading.Condition()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body["_path"] = self.path
                with server._cond:
                    server.requests.append(body)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    server._cond.notify_all()
                try:
                    status, answer = server.handler(body)
                finally:  # before the answer leaves: the client may send the next one at once
                    with server._cond:
                        server.in_flight -= 1
                        server.answered += 1
                        server._cond.notify_all()
                self._send(status, answer)

            def do_GET(self) -> None:  # noqa: N802
                self._send(200, server.models)

            def _send(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def wait_until(self, predicate: Callable[[FakeServer], bool], timeout: float) -> bool:
        """Block (in a handler) until ``predicate(self)`` holds or ``timeout`` passes."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
