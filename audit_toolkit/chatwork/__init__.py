"""Sharing findings to Chatwork: notation (inert text, layout), messages (rendering), client (HTTP),
outbox (sent once), share (the public entry).

The names below are imported on first use: `share` builds DataFrames, and the real-time Lambda imports
notation, messages, client and outbox without pandas.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "ChatworkClient": "client", "ChatworkError": "client", "Token": "client", "load_token": "client",
    "neutralize": "notation",
    "ShareReport": "share", "messages_for": "share", "share": "share", "share_file": "share",
    "summary_messages": "share",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'audit_toolkit.chatwork' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
