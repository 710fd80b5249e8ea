"""Sharing findings to Chatwork: notation (inert text, layout), messages (rendering), client (HTTP),
outbox (sent once), share (the public entry)."""

from .client import ChatworkClient, ChatworkError, Token, load_token
from .notation import neutralize
from .share import ShareReport, messages_for, share, share_file, summary_messages

__all__ = ["ChatworkClient", "ChatworkError", "ShareReport", "Token", "load_token", "messages_for", "neutralize",
           "share", "share_file", "summary_messages"]
