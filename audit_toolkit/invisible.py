"""What a reader of evidence cannot see: one definition for every renderer and for the analysis.
Without pandas: the real-time alert imports the analysis bare."""

from __future__ import annotations

import re

# What a reader cannot see, or that reorders what they see: C0, DEL, C1, line and paragraph
# separators, every format character (Cf, Unicode 14: bidi marks and overrides, zero-width
# characters, the soft hyphen, tags), the blank fillers, lone surrogates and private use. So
# `0.0.0.0/0\u200b` never reads as the whole internet.
INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\u3164\ud800-\udfff\ue000-\uf8ff\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f\U000f0000-\U0010ffff]"
)


def blank(text: str) -> bool:
    """Whether `text` holds nothing a reader can see: white space, zero-width and format characters,
    fillers (an errorCode of U+200B reads as none, and must not pass for a failed call)."""
    return not INVISIBLE.sub("", text).strip()
