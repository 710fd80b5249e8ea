"""A local Chatwork API v2 on 127.0.0.1 that behaves as the documented API, for the tests.

It checks the token header, wants a form-encoded body of 1..65,535 characters, answers 401 for a bad
token, enforces 300 requests / 5 min per token (headers x-ratelimit-*) and 10 posts / 10 s per room
with 429, accepts multipart uploads up to 5 MB, and on demand answers 500 or drops the connection
before or after storing a post. Time comes from an injectable clock shared with the client, so the
limits are enforced by the server on the same time line the client sleeps on.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

MAX_BODY = 65_535
MAX_FILE = 5 * 1024 * 1024


class FakeClock:
    """Wall-clock seconds that only move when someone sleeps."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(seconds, 0.0)


@dataclass
class State:
    token: str
    clock: object = time.time
    rooms: tuple[str, ...] = ("42", "43")
    messages: dict[str, list[dict]] = field(default_factory=dict)
    files: dict[str, list[dict]] = field(default_factory=dict)
    # per request: "500", "drop_before", "drop_after", "429", or ("raw", status, body, headers): an
    # answer no documented endpoint gives (a proxy's page, a redirect), to test the client against it
    faults: deque = field(default_factory=deque)
    fault_paths: tuple[str, ...] = ("POST",)  # which requests the faults apply to (method names)
    requests: list[dict] = field(default_factory=list)  # method, path, query, content_type
    post_times: dict[str, list[float]] = field(default_factory=dict)
    limit_429s: int = 0  # 429s the limits caused (not the ones asked for)
    window_start: float | None = None
    window_count: int = 0
    token_limit: int = 300
    token_period: float = 300.0
    room_limit: int = 10
    room_period: float = 10.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, *args) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without this, delayed ACKs cost 40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    # --- plumbing ---
    def _send(self, status: int, payload: object | None, headers: dict | None = None) -> None:
        self._send_raw(status, b"" if payload is None else json.dumps(payload).encode(), headers, "application/json")

    def _send_raw(self, status: int, data: bytes, headers: dict | None = None, content_type: str = "text/html") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(2)

    def _rate_headers(self, now: float) -> dict:
        s = self.state
        return {"x-ratelimit-limit": s.token_limit, "x-ratelimit-remaining": max(s.token_limit - s.window_count, 0),
                "x-ratelimit-reset": int(s.window_start + s.token_period) if s.window_start is not None else int(now + s.token_period)}

    def _handle(self, method: str) -> None:
        s = self.state
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with s.lock:
            now = s.clock()
            s.requests.append({"method": method, "path": parts.path, "query": parts.query,
                               "content_type": self.headers.get("Content-Type", ""), "time": now})
            fault = s.faults.popleft() if s.faults and method in s.fault_paths else None
            if fault == "drop_before":
                return self._drop()
            if isinstance(fault, tuple) and fault[0] == "raw":
                return self._send_raw(*fault[1:])
            if fault == "500":
                return self._send(500, {"errors": ["Internal server error"]})
            if self.headers.get("X-ChatWorkToken") != s.token:
                return self._send(401, {"errors": ["Invalid API token"]})
            if s.window_start is None or now >= s.window_start + s.token_period:
                s.window_start, s.window_count = now, 0
            if fault == "429":
                return self._send(429, {"errors": ["Rate limit exceeded"]}, {**self._rate_headers(now), "x-ratelimit-remaining": 0})
            if s.window_count >= s.token_limit:
                s.limit_429s += 1
                return self._send(429, {"errors": ["Rate limit exceeded"]}, self._rate_headers(now))
            s.window_count += 1
            status, payload = self._route(method, parts, raw, now)
            if fault == "drop_after":
                return self._drop()
            return self._send(status, payload, self._rate_headers(now))

    def _route(self, method: str, parts, raw: bytes, now: float) -> tuple[int, object | None]:
        s = self.state
        segments = parts.path.strip("/").split("/")
        if segments[:1] != ["v2"]:
            return 404, {"errors": ["Not found"]}
        segments = segments[1:]
        if method == "GET" and segments == ["me"]:
            return 200, {"account_id": 1, "name": "audit bot"}
        if method == "GET" and segments == ["rooms"]:
            return 200, [{"room_id": int(r), "name": f"room {r}"} for r in s.rooms]
        if len(segments) != 3 or segments[0] != "rooms" or segments[1] not in s.rooms:
            return 404, {"errors": ["Not found"]}
        room, what = segments[1], segments[2]
        if what == "messages" and method == "GET":
            if parse_qs(parts.query).get("force") != ["1"] and not s.messages.get(room):
                return 204, None
            return 200, [dict(m) for m in s.messages.get(room, [])[-100:]]
        if method != "POST" or what not in ("messages", "files"):
            return 404, {"errors": ["Not found"]}
        if "body=" in parts.query or "message=" in parts.query:
            return 400, {"errors": ["Parameters must be in the request body"]}
        posts = s.post_times.setdefault(room, [])
        if len([t for t in posts if t > now - s.room_period]) >= s.room_limit:
            s.limit_429s += 1
            return 429, {"errors": ["Rate limit exceeded"]}
        if what == "messages":
            return self._post_message(room, raw, now)
        return self._post_file(room, raw, now)

    def _post_message(self, room: str, raw: bytes, now: float) -> tuple[int, object]:
        s = self.state
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return 400, {"errors": ["Content-Type must be application/x-www-form-urlencoded"]}
        form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        body = form.get("body", [""])[0]
        if not body:
            return 400, {"errors": ["Parameter 'body' is required"]}
        if len(body.encode("utf-16-le")) // 2 > MAX_BODY:
            return 400, {"errors": ["Parameter 'body' is too long"]}
        if form.get("self_unread", ["0"])[0] not in ("0", "1"):
            return 400, {"errors": ["Parameter 'self_unread' must be 0 or 1"]}
        s.post_times[room].append(now)
        message = {"message_id": str(sum(len(v) for v in s.messages.values()) + 1000), "body": body, "send_time": int(now)}
        s.messages.setdefault(room, []).append(message)
        return 200, {"message_id": message["message_id"]}

    def _post_file(self, room: str, raw: bytes, now: float) -> tuple[int, object]:
        s = self.state
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            return 400, {"errors": ["multipart/form-data is required"]}
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
        fields = {p.get_param("name", header="content-disposition"): p for p in parsed.iter_parts()}
        if "file" not in fields:
            return 400, {"errors": ["Parameter 'file' is required"]}
        content = fields["file"].get_payload(decode=True) or b""
        if len(content) > MAX_FILE:
            return 400, {"errors": ["File is too large (5 MB at most)"]}
        message = fields["message"].get_content() if "message" in fields else None
        s.post_times[room].append(now)
        record = {"file_id": str(len(s.files.get(room, [])) + 1), "name": fields["file"].get_filename(),
                  "size": len(content), "sha": __import__("hashlib").sha256(content).hexdigest(), "message": message}
        s.files.setdefault(room, []).append(record)
        return 200, {"file_id": record["file_id"]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # dropped connections are on purpose
        pass


class FakeChatwork:
    """Start with `with FakeChatwork(token, clock) as api:`; `api.base` is the v2 URL."""

    def __init__(self, token: str, clock=time.time) -> None:
        self.state = State(token=token, clock=clock)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/v2"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeChatwork":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, room: str = "42") -> list[str]:
        return [m["body"] for m in self.state.messages.get(room, [])]

    def max_posts_in_window(self, room: str = "42") -> int:
        """The most posts the room took in any room_period-long window."""
        times = sorted(self.state.post_times.get(room, []))
        period = self.state.room_period
        return max((sum(1 for u in times if t <= u < t + period) for t in times), default=0)


TOKEN = "cw-test-token-0123456789abcdef"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock):
    """The local API, on the same fake clock as the client under test; imported by the test modules."""
    with FakeChatwork(TOKEN, clock) as server:
        yield server
