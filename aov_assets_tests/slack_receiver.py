"""A Slack incoming webhook on 127.0.0.1 that can fail on demand (500s, slowness)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET_PATH = "/services/T0SEKRIT/B0SEKRIT/sekrit-webhook-token"


class SlackReceiver:
    def __init__(self) -> None:
        self.statuses: list[int] = []  # answers for the next posts; then 200
        self.delay_seconds = 0.0
        self.posts: list[dict[str, Any]] = []  # every post received, with the status answered
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{SECRET_PATH}"

    @property
    def accepted(self) -> list[dict[str, Any]]:
        return [post["body"] for post in self.posts if post["status"] == 200]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(receiver.delay_seconds)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.posts.append({"path": self.path, "status": status, "body": body})
                answer = b"ok" if status == 200 else b"internal_error"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler
