"""A Slack incoming webhook on 127.0.0.1 that can fail on demand (500s, slowness) and, like Slack, answers 400
`invalid_blocks` to a message beyond Block Kit's limits."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from .loopback import LoopbackServer

SECRET_PATH = "/services/T0SEKRIT/B0SEKRIT/sekrit-webhook-token"


class SlackReceiver(LoopbackServer):
    def __init__(self) -> None:
        self.statuses: list[int] = []  # answers for the next posts; then 200
        self.delay_seconds = 0.0
        self.posts: list[dict[str, Any]] = []  # every post received, with the status answered
        super().__init__(self._handler(), "slack-receiver")
        self.start()

    @property
    def url(self) -> str:
        return f"{self.base_url}{SECRET_PATH}"

    @property
    def accepted(self) -> list[dict[str, Any]]:
        return [post["body"] for post in self.posts if post["status"] == 200]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(receiver.delay_seconds)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200 and not valid_blocks(body.get("blocks", [])):
                    status = 400
                receiver.posts.append({"path": self.path, "status": status, "body": body})
                answer = {200: b"ok", 400: b"invalid_blocks"}.get(status, b"internal_error")
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler


def valid_blocks(blocks: list[dict[str, Any]]) -> bool:
    """Block Kit's limits that a message of ours could reach: at most 50 blocks; a section's text at most
    3,000 characters, its fields at most 10 of at most 2,000 characters; a header at most 150."""
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        fields = block.get("fields") or []
        if block["type"] == "header" and len(text) > 150:
            return False
        if block["type"] == "section" and (
            len(text) > 3000 or len(fields) > 10 or any(len(field["text"]) > 2000 for field in fields)
        ):
            return False
    return len(blocks) <= 50
