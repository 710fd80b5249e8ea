"""The client against a local Chatwork API on 127.0.0.1 (tests/fake_chatwork.py)."""

from __future__ import annotations

import json
import logging
import pickle
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from audit_toolkit.chatwork.client import (
    ChatworkAuthError, ChatworkClient, ChatworkError, ChatworkUnavailable, SendUncertain, Token, load_token,
)
from audit_toolkit.errors import ConfigError
from fake_chatwork import TOKEN, api, clock  # noqa: F401 (api, clock: fixtures)



def client_for(api, clock, token=TOKEN, **kw):
    return ChatworkClient(Token(token), base_url=api.base, clock=clock, sleep=clock.sleep, **kw)


def test_endpoints_send_the_token_as_a_header_and_the_body_as_a_form(api, clock):
    c = client_for(api, clock)
    assert c.me() == {"account_id": 1, "name": "audit bot"}
    assert [r["room_id"] for r in c.rooms()] == [42, 43]
    mid = c.post_message(42, "[info]hello & こんにちは=1[/info]", self_unread=True)
    assert api.bodies() == ["[info]hello & こんにちは=1[/info]"]
    assert c.recent_messages(42) == [{"message_id": mid, "body": "[info]hello & こんにちは=1[/info]", "send_time": int(clock())}]
    post = [r for r in api.state.requests if r["method"] == "POST"][0]
    assert post["content_type"] == "application/x-www-form-urlencoded" and post["query"] == ""
    assert all(TOKEN not in r["path"] + r["query"] for r in api.state.requests)


def test_bad_token_is_a_clear_401_without_the_token(api, clock, caplog):
    caplog.set_level(logging.DEBUG)
    c = client_for(api, clock, token="wrong-token-value")
    with pytest.raises(ChatworkAuthError, match="401: Invalid API token") as err:
        c.post_message(42, "x")
    assert "wrong-token-value" not in str(err.value) + repr(err.value) + caplog.text
    assert api.bodies() == []


def test_length_limit_is_checked_before_sending_and_enforced_by_the_server(api, clock):
    c = client_for(api, clock)
    with pytest.raises(ChatworkError, match="1..65535"):
        c.post_message(42, "x" * 65_536)
    with pytest.raises(ChatworkError, match="1..65535"):
        c.post_message(42, "")
    c.post_message(42, "x" * 65_535)
    raw = requests.post(f"{api.base}/rooms/42/messages", data={"body": "x" * 65_536}, headers={"X-ChatWorkToken": TOKEN})
    assert raw.status_code == 400 and raw.json() == {"errors": ["Parameter 'body' is too long"]}
    raw = requests.post(f"{api.base}/rooms/42/messages", params={"body": "in the url"}, headers={"X-ChatWorkToken": TOKEN})
    assert raw.status_code == 400
    assert api.bodies() == ["x" * 65_535]


def test_5xx_and_connection_failures_are_retried_with_backoff(api, clock):
    c = client_for(api, clock)
    api.state.fault_paths = ("GET",)
    api.state.faults.extend(["500", "drop_before", "500"])
    assert c.me()["account_id"] == 1
    assert clock.slept == [0.5, 1.0, 2.0]  # exponential backoff, through the injected sleep
    api.state.faults.extend(["500"] * 10)
    with pytest.raises(ChatworkUnavailable, match="server error 500"):
        c.me()


def test_a_refused_connection_is_retried_then_reported(clock):
    c = ChatworkClient(Token(TOKEN), base_url="http://127.0.0.1:9/v2", clock=clock, sleep=clock.sleep, attempts=3)
    with pytest.raises(ChatworkUnavailable, match="could not reach") as err:
        c.me()
    assert len(clock.slept) == 2 and TOKEN not in str(err.value)


def test_a_post_whose_answer_is_lost_is_not_blindly_resent(api, clock):
    c = client_for(api, clock)
    api.state.faults.append("drop_after")
    with pytest.raises(SendUncertain):
        c.post_message(42, "once")
    assert api.bodies() == ["once"]  # it was posted; the caller finds it by its ref (test_chatwork_share)


def test_429_is_waited_out_until_the_reset(api, clock):
    c = client_for(api, clock)
    start = clock()
    api.state.faults.append("429")
    c.post_message(42, "after the wait")
    reset = int(start + 300)  # the server's token window opened with this request
    assert clock() >= reset and api.bodies() == ["after the wait"]


def test_token_limit_is_kept_proactively(api, clock):
    c = client_for(api, clock)
    start = clock()
    for _ in range(350):
        c.me()
    assert api.state.limit_429s == 0
    assert clock() - start >= 300  # the 301st request waited for the window


def test_the_server_does_enforce_the_token_limit(api, clock):
    for _ in range(300):
        assert requests.get(f"{api.base}/me", headers={"X-ChatWorkToken": TOKEN}).status_code == 200
    answer = requests.get(f"{api.base}/me", headers={"X-ChatWorkToken": TOKEN})
    assert answer.status_code == 429 and answer.headers["x-ratelimit-remaining"] == "0"
    assert int(answer.headers["x-ratelimit-reset"]) == int(clock() + 300)


def test_upload_a_file_up_to_5_mb(api, clock):
    c = client_for(api, clock)
    content = bytes(range(256)) * (5 * 1024 * 4)  # exactly 5 MB
    assert c.upload_file(42, content, "chart.png", "chart", mime="image/png") == "1"
    [stored] = api.state.files["42"]
    assert stored["size"] == 5 * 1024 * 1024 and stored["name"] == "chart.png" and stored["message"] == "chart"
    with pytest.raises(ChatworkError, match="5 MB"):
        c.upload_file(42, content + b"x", "big.bin")
    raw = requests.post(f"{api.base}/rooms/42/files", files={"file": ("big.bin", content + b"x")}, headers={"X-ChatWorkToken": TOKEN})
    assert raw.status_code == 400 and len(api.state.files["42"]) == 1


def test_the_token_never_shows(api, clock, caplog, monkeypatch, tmp_path):
    caplog.set_level(logging.DEBUG)
    token = Token(TOKEN)
    c = client_for(api, clock)
    texts = [repr(token), str(token), f"{token}", repr(c), str(c)]
    with pytest.raises(TypeError):
        pickle.dumps(token)
    api.state.fault_paths = ("GET",)
    api.state.faults.extend(["500"] * 10)
    for call in (c.me, lambda: client_for(api, clock, token=TOKEN + "x").post_message(42, "x")):
        with pytest.raises(ChatworkError) as err:
            call()
        texts += [str(err.value), repr(err.value), str(err.value.__cause__)]
    assert caplog.text  # the retries were logged
    assert all(TOKEN not in t for t in texts + [caplog.text])


def test_token_comes_from_the_environment_or_a_private_file(monkeypatch, tmp_path):
    monkeypatch.delenv("CHATWORK_API_TOKEN", raising=False)
    file = tmp_path / "token"
    file.write_text(TOKEN + "\n")
    file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_token(file)
    file.chmod(0o600)
    assert load_token(file).reveal() == TOKEN
    with pytest.raises(ConfigError, match="CHATWORK_API_TOKEN"):
        load_token(tmp_path / "missing")
    monkeypatch.setenv("CHATWORK_API_TOKEN", "from-env")
    assert load_token(file).reveal() == "from-env"


def test_plain_http_is_refused_except_on_loopback():
    with pytest.raises(ConfigError, match="https"):
        ChatworkClient(Token(TOKEN), base_url="http://api.chatwork.com/v2")


def test_the_token_is_scrubbed_from_an_error_before_it_is_cut(api, clock):
    """An error text of 290 characters then the token: cut at 300 first, the token's start would show."""
    api.state.faults.append(("raw", 400, json.dumps({"errors": ["e" * 290 + TOKEN]}).encode(), {}))
    with pytest.raises(ChatworkError) as err:
        client_for(api, clock).post_message(42, "x")
    text = str(err.value)
    assert "e" * 290 in text and "***" in text
    assert not any(TOKEN[:n] in text for n in range(4, len(TOKEN) + 1))


def test_a_part_of_the_token_echoed_in_an_error_is_scrubbed_too(api, clock):
    api.state.faults.append(("raw", 403, json.dumps({"errors": [f"bad token {TOKEN[:12]}... for {TOKEN[-9:]}"]}).encode(), {}))
    with pytest.raises(ChatworkError) as err:
        client_for(api, clock).post_message(42, "x")
    assert str(err.value).endswith("403: bad token ***... for ***")


def test_a_base_url_with_credentials_is_refused_without_showing_them():
    with pytest.raises(ConfigError, match="plain URL") as err:
        ChatworkClient(Token(TOKEN), base_url="https://me:hunter2@api.chatwork.com/v2")
    assert "hunter2" not in str(err.value)


def test_a_redirect_is_never_followed_with_the_token(api, clock):
    seen = []

    class Catcher(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(dict(self.headers))
            self.send_response(200)
            self.end_headers()

        do_GET = do_POST

        def log_message(self, *args):
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), Catcher)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        where = f"http://127.0.0.1:{other.server_address[1]}/v2/rooms/42/messages"
        for status in (301, 302, 307, 308):
            api.state.faults.append(("raw", status, b"", {"Location": where}))
            with pytest.raises(ChatworkError, match=f"redirect \\({status}\\); not followed"):
                client_for(api, clock).post_message(42, "x")
    finally:
        other.shutdown()
    assert seen == [] and api.bodies() == []


@pytest.mark.parametrize("answer", [b"<html>502 Bad Gateway</html>", b"{\"message_id\": ", b"[1, 2]", b"{}"])
def test_a_200_answer_that_is_not_the_documented_json_is_an_error_not_a_traceback(api, clock, answer):
    api.state.fault_paths = ("GET", "POST")
    api.state.faults.append(("raw", 200, answer, {}))
    with pytest.raises(SendUncertain):  # the post may have gone through: the caller looks for it
        client_for(api, clock).post_message(42, "x")
    if answer.startswith(b"[") or answer == b"{}":
        return  # JSON, so a GET reads it as what it is
    api.state.faults.append(("raw", 200, answer, {}))
    with pytest.raises(ChatworkError, match="not JSON"):
        client_for(api, clock).me()


def test_a_token_that_cannot_be_a_header_is_refused_without_showing_it():
    with pytest.raises(ConfigError) as err:
        Token("abc\ndef-secret-part")
    assert "secret" not in str(err.value)
