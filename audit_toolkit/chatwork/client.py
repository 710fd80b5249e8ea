"""A thin Chatwork API v2 client: the documented endpoints, limits, retries. It only does HTTP.

- The token travels in the `X-ChatWorkToken` header only, and is held in a `Token` whose repr hides it;
  it is scrubbed from every error message this module writes.
- HTTP with the standard library (`http.client`), so the real-time Lambda needs no dependency. A
  redirect is never followed: the token goes to the configured API base and nowhere else.
- Timeouts on every call; 5xx answers and failed connections are retried with exponential backoff;
  a 429 is waited out until `x-ratelimit-reset` (or the per-room window) and retried.
- Limits are kept proactively: at most 300 requests per 5 minutes per token and 10 posts per 10 s
  per room, and nothing is sent while the server says no requests remain until its reset.
- A message post whose answer was lost after it was sent (read timeout, dropped connection) is not
  retried blindly, which could post it twice: it raises `SendUncertain`, and the caller looks for it.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import ssl
import stat
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit

from ..errors import AuditToolkitError, ConfigError
from .notation import MAX_BODY, size

API_BASE = "https://api.chatwork.com/v2"
MAX_FILE = 5 * 1024 * 1024
ERROR_LIMIT = 300  # characters of one error the server sent, in a message of ours
SCRUB_RUN = 8  # characters of the token in a row that an error may not show
TOKEN_ENV = "CHATWORK_API_TOKEN"
TOKEN_FILE_ENV = "AUDIT_TOOLKIT_CHATWORK_TOKEN_FILE"
DEFAULT_TOKEN_FILE = Path("~/.config/audit-toolkit/chatwork_token")

log = logging.getLogger(__name__)


class ChatworkError(AuditToolkitError):
    """Chatwork refused a request or could not be reached; the message says which and why."""


class ChatworkAuthError(ChatworkError):
    """The token was refused (401)."""


class ChatworkUnavailable(ChatworkError):
    """5xx answers or failed connections, still failing after the retries."""


class ChatworkRateLimited(ChatworkError):
    """429, still after waiting out the resets."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class SendUncertain(ChatworkError):
    """A post was sent but its answer was lost: it may or may not have been posted."""


class Token:
    """The API token. Its repr and str never show it; only the request header reads it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        value = (value or "").strip()
        if not value:
            raise ConfigError("the Chatwork API token is empty")
        if not value.isascii() or not value.isprintable() or " " in value:
            # http.client would refuse the header with an error that quotes it
            raise ConfigError("the Chatwork API token has characters a token cannot have (spaces, line "
                              "breaks, non-ASCII): check what was stored")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Token('***')"

    __str__ = __repr__

    def __reduce__(self):  # never pickled into a notebook, a cache or a subprocess
        raise TypeError("a Chatwork token is not serializable")


def load_token(path: str | Path | None = None) -> Token:
    """The token from CHATWORK_API_TOKEN, else from a file readable by its owner only.

    The file is `path`, else AUDIT_TOOLKIT_CHATWORK_TOKEN_FILE, else ~/.config/audit-toolkit/chatwork_token.
    Never from a command-line argument: that lands in shell history and saved notebook output.
    """
    if os.environ.get(TOKEN_ENV, "").strip():
        return Token(os.environ[TOKEN_ENV])
    file = Path(path or os.environ.get(TOKEN_FILE_ENV) or DEFAULT_TOKEN_FILE).expanduser()
    if not file.is_file():
        raise ConfigError(f"no Chatwork token: set {TOKEN_ENV}, or write it to {file} (chmod 600)")
    if file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{file} is readable by others: run chmod 600 {file}")
    return Token(file.read_text(encoding="utf-8"))


def check_base_url(base_url: str) -> str:
    """HTTPS only, except a loopback test server: the token must never cross a network in clear."""
    parts = urlsplit(base_url)
    if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"the Chatwork API base must be https, got {parts.scheme}://{parts.hostname}")
    if parts.username or parts.password or parts.query or parts.fragment:
        # credentials in the URL would be shown wherever the base is (errors, the client's repr)
        raise ConfigError(f"the Chatwork API base must be a plain URL (no user, query or fragment), "
                          f"got {parts.scheme}://{parts.hostname}{parts.path}")
    return base_url.rstrip("/")


class RateLimiter:
    """Sliding windows for the token and for each room's posts, plus the server's own reset."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None],
                 requests_per_token: tuple[int, float] = (300, 300.0),
                 posts_per_room: tuple[int, float] = (10, 10.0), margin: float = 0.5) -> None:
        self._clock, self._sleep, self._margin = clock, sleep, margin
        self.token_limit, self.room_limit = requests_per_token, posts_per_room
        self._sent: deque[float] = deque()
        self._posts: dict[str, deque[float]] = defaultdict(deque)
        self._blocked_until = 0.0

    def _free_at(self, times: deque[float], limit: tuple[int, float], now: float) -> float:
        count, period = limit
        while times and times[0] + period + self._margin <= now:
            times.popleft()
        return now if len(times) < count else times[0] + period + self._margin

    def acquire(self, room: str | None = None) -> None:
        """Wait until one more request (a post to `room`, if given) stays within every limit."""
        while True:
            now = self._clock()
            ready = max(self._blocked_until, self._free_at(self._sent, self.token_limit, now))
            if room is not None:
                ready = max(ready, self._free_at(self._posts[room], self.room_limit, now))
            if ready <= now:
                self._sent.append(now)
                if room is not None:
                    self._posts[room].append(now)
                return
            self._sleep(ready - now)

    def observe(self, headers: Any) -> None:
        """Follow the server: when it says nothing remains, send nothing before its reset."""
        try:
            remaining = int(headers.get("x-ratelimit-remaining"))
            reset = float(headers.get("x-ratelimit-reset"))
        except (TypeError, ValueError):
            return
        if remaining <= 0:
            self._blocked_until = max(self._blocked_until, reset + self._margin)


@dataclass(repr=False)
class ChatworkClient:
    token: Token
    base_url: str = API_BASE
    timeout: tuple[float, float] = (5.0, 30.0)  # connect, read
    attempts: int = 6
    clock: Callable[[], float] = time.time  # wall time: x-ratelimit-reset is Unix seconds
    sleep: Callable[[float], None] = time.sleep
    limiter: RateLimiter | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.token, Token):
            raise TypeError("token must be a chatwork.Token (its repr hides it)")
        self.base_url = check_base_url(self.base_url)
        self.limiter = self.limiter or RateLimiter(self.clock, self.sleep)

    def __repr__(self) -> str:
        return f"ChatworkClient(base_url={self.base_url!r}, token=Token('***'))"

    # --- the documented endpoints ---
    def me(self) -> dict:
        return self._call("GET", "/me")

    def rooms(self) -> list[dict]:
        return self._call("GET", "/rooms")

    def post_message(self, room: str | int, body: str, self_unread: bool = False) -> str:
        """Post `body` (1..65,535 characters) as a form field; the new message's id."""
        if not 1 <= size(body) <= MAX_BODY:
            raise ChatworkError(f"a message body must be 1..{MAX_BODY} characters, got {size(body)}")
        data = {"body": body, "self_unread": "1" if self_unread else "0"}
        answer = self._call("POST", f"/rooms/{room_id(room)}/messages", data=data, post_to=str(room), idempotent=False)
        return _answer_id(answer, "message_id")

    def recent_messages(self, room: str | int) -> list[dict]:
        """The room's latest messages (up to 100, `force=1`), to find a post whose answer was lost."""
        return self._call("GET", f"/rooms/{room_id(room)}/messages", params={"force": "1"}) or []

    def upload_file(self, room: str | int, content: bytes, filename: str, message: str | None = None,
                    mime: str = "application/octet-stream") -> str:
        """Upload one file (at most 5 MB) with an optional message; the new file's id."""
        if len(content) > MAX_FILE:
            raise ChatworkError(f"{filename}: {len(content)} bytes is over Chatwork's 5 MB file limit")
        data = {"message": message} if message else None
        answer = self._call("POST", f"/rooms/{room_id(room)}/files", data=data,
                            files={"file": (filename, content, mime)}, post_to=str(room), idempotent=False)
        return _answer_id(answer, "file_id")

    # --- one request, with limits and retries ---
    def _call(self, method: str, path: str, *, post_to: str | None = None, idempotent: bool = True,
              **kwargs) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return self._once(method, path, post_to, idempotent, **kwargs)
            except (ChatworkUnavailable, ChatworkRateLimited) as e:
                if attempt == self.attempts:
                    raise
                backoff = min(0.5 * 2 ** (attempt - 1), 30.0)
                wait = e.wait if isinstance(e, ChatworkRateLimited) else backoff
                log.warning("%s; retrying in %.1f s", e, wait)
                self.sleep(wait)

    def _once(self, method: str, path: str, post_to: str | None, idempotent: bool,
              params: dict | None = None, data: dict | None = None, files: dict | None = None) -> Any:
        self.limiter.acquire(post_to)
        what = f"chatwork {method} {path}"
        body, headers = _encode(data, files)
        headers["X-ChatWorkToken"] = self.token.reveal()
        base = urlsplit(self.base_url)
        target = base.path + path + (f"?{urlencode(params)}" if params else "")
        connect, read = self.timeout
        if base.scheme == "https":
            conn = http.client.HTTPSConnection(base.hostname, base.port, timeout=connect,
                                               context=ssl.create_default_context())
        else:  # loopback only (check_base_url)
            conn = http.client.HTTPConnection(base.hostname, base.port, timeout=connect)
        try:
            try:
                conn.connect()
            except OSError as e:  # nothing was sent: safe to retry, even a post
                failure = f"{what}: {type(e).__name__}"
                raise ChatworkUnavailable(f"{failure}: could not reach Chatwork") from e
            conn.sock.settimeout(read)
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                status, answer = response.status, response.read()
            except (OSError, http.client.HTTPException) as e:
                failure = f"{what}: {type(e).__name__}"
                if idempotent:
                    raise ChatworkUnavailable(f"{failure}: could not reach Chatwork") from e
                raise SendUncertain(f"{failure}: sent, but the answer was lost") from e
            self.limiter.observe(response.headers)
        finally:
            conn.close()
        if 200 <= status < 300:
            try:
                return json.loads(answer) if answer.strip() else None
            except ValueError as e:  # a proxy's page, a cut answer: the post may have gone through
                error = SendUncertain if not idempotent else ChatworkError
                raise error(f"{what}: Chatwork answered {status} with a body that is not JSON") from e
        if 300 <= status < 400:
            # Never followed: the token header would go wherever the answer points, in clear for http.
            raise ChatworkError(f"{what}: Chatwork answered with a redirect ({status}); not followed, "
                                f"the token is only sent to {self.base_url}")
        errors = "; ".join(self._errors(answer, status, response.reason))
        if status == 401:
            raise ChatworkAuthError(f"Chatwork refused the API token (401: {errors}); check {TOKEN_ENV} or the token file")
        if status == 429:
            raise ChatworkRateLimited(f"{what}: rate limited (429)", self._retry_after(response.headers))
        if status >= 500:
            raise ChatworkUnavailable(f"{what}: server error {status}: {errors}")
        raise ChatworkError(f"{what}: {status}: {errors}")

    def _errors(self, answer: bytes, status: int, reason: str) -> list[str]:
        """The server's error texts, the token scrubbed before anything is cut (a cut could keep
        half of it)."""
        try:
            errors = json.loads(answer).get("errors")
        except (ValueError, AttributeError):
            errors = None
        if not (isinstance(errors, list) and errors):
            errors = [reason or f"HTTP {status}"]
        return [_cut(self._scrub(str(e))) for e in errors[:10]]

    def _retry_after(self, headers: Any) -> float:
        """Until the token's reset when it is spent, else one per-room window."""
        try:
            reset = float(headers.get("x-ratelimit-reset"))
            remaining = int(headers.get("x-ratelimit-remaining"))
        except (TypeError, ValueError):
            reset, remaining = 0.0, 1
        now = self.clock()
        if remaining <= 0 and reset > now:
            return reset - now + 0.5
        return self.limiter.room_limit[1]

    def _scrub(self, text: str) -> str:
        """The text without the token, nor any run of SCRUB_RUN or more of its characters (a server or
        proxy may echo part of it)."""
        secret = self.token.reveal()
        text = text.replace(secret, "***")
        while True:
            match = SequenceMatcher(None, text, secret, autojunk=False).find_longest_match()
            if match.size < SCRUB_RUN:
                return text
            text = text[: match.a] + "***" + text[match.a + match.size:]


def room_id(room: str | int) -> str:
    """A room id as the API takes it: ChatworkError for one that is no number."""
    text = str(room).strip()
    if not text.isdigit():
        raise ChatworkError(f"a room id is a number, got {text!r}")
    return text


def _cut(text: str) -> str:
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "\u2026"


def _answer_id(answer: Any, key: str) -> str:
    """The new message's or file's id; an answer without one leaves the post uncertain, not a
    traceback."""
    value = answer.get(key) if isinstance(answer, dict) else None
    if isinstance(value, (str, int)) and str(value).strip():
        return str(value)
    raise SendUncertain(f"Chatwork's answer to the post has no {key}")


def _encode(data: dict | None, files: dict | None) -> tuple[bytes | None, dict[str, str]]:
    """A form body (the API wants posts form-encoded) or, with files, a multipart one."""
    if not files:
        if data is None:
            return None, {}
        return urlencode(data).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in (data or {}).items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(head.encode() + str(value).encode() + b"\r\n")
    for name, (filename, content, mime) in files.items():
        safe = "".join(c for c in filename if c.isprintable() and c not in '"\\') or "file"
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{safe}"\r\nContent-Type: {mime}\r\n\r\n')
        parts.append(head.encode() + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
