"""Chatwork notation: make untrusted text inert, and lay messages out so no tag is ever cut.

Chatwork has no escape syntax: `[toall]` in a log value would notify a whole room and `[/code]` would
break out of a block. Every tag starts with `[` and ends with `]`, so a value without either can
never be, or complete, a tag. `neutralize` replaces both with the full-width look-alikes `［` and
`］`, which read the same to a person and which Chatwork does not parse. Templates only ever emit
whole tags and never place a value between their own brackets; `Box` checks that its content has no
bracket left, so a value that skipped `neutralize` fails loudly instead of reaching a room.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ..analysis.events import is_missing

MAX_BODY = 65_535  # the API's limit for one message body
VALUE_LIMIT = 1_000  # one evidence value in a message; longer ones are cut with an ellipsis
_BRACKETS = str.maketrans({"[": "\uff3b", "]": "\uff3d"})
_SPACES = {"\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"}


def neutralize(value: object, limit: int = VALUE_LIMIT, multiline: bool = False) -> str:
    """A value from evidence as inert text: no bracket, no control or bidi character, at most `limit` chars.

    Line breaks become spaces unless `multiline` (for a [code] block, where they are kept as `\\n`).
    """
    text = str(value)
    # Lone surrogates (from a bad decode) cannot be sent as UTF-8: make them U+FFFD.
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if multiline:
        text = text.replace("\r\n", "\n")
    out = []
    for ch in text:
        if ch in _SPACES:
            out.append("\n" if multiline and ch in "\n\r" else ("    " if multiline and ch == "\t" else " "))
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue  # invisible controls, bidi overrides, zero-width marks: they change what a person reads
        else:
            out.append(ch)
    text = "".join(out).translate(_BRACKETS)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "\u2026"


def size(text: str) -> int:
    """Length as UTF-16 code units: never less than characters, so a body that fits here fits the API."""
    return len(text.encode("utf-16-le")) // 2


def _check(text: str) -> str:
    if "[" in text or "]" in text:
        raise ValueError(f"unneutralized bracket in message content: {text[:80]!r}")
    return text


@dataclass(frozen=True)
class Box:
    """One `[info]` box: a title, lines of text, and optionally a `[code]` block. All content is inert."""

    title: str
    lines: tuple[str, ...] = ()
    code: str | None = None

    def __post_init__(self) -> None:
        _check(self.title)
        for line in self.lines:
            _check(line)
        if self.code is not None:
            _check(self.code)

    def render(self) -> str:
        body = "\n".join(self.lines)
        if self.code is not None:
            body = f"{body}\n[code]{self.code}[/code]" if body else f"[code]{self.code}[/code]"
        return f"[info][title]{self.title}[/title]{body}[/info]"

    def split(self, limit: int = MAX_BODY) -> list[str]:
        """Bodies of at most `limit` units: the box itself, or parts titled `(i/n)` cut between lines.

        A single line longer than a part is cut inside its text; that is safe because content holds no
        bracket, so a cut can never fall inside a tag.
        """
        whole = self.render()
        if size(whole) <= limit:
            return [whole]
        overhead = size(Box(self.title + " (9999/9999)", (), "" if self.code is not None else None).render()) + 1
        budget = limit - overhead
        if budget < 16:
            raise ValueError(f"limit {limit} leaves no room for content")
        units = [("line", piece) for line in self.lines for piece in _cut(line, budget)]
        if self.code is not None:
            units += [("code", piece) for line in self.code.split("\n") for piece in _cut(line, budget)]
        parts: list[tuple[list[str], list[str]]] = [([], [])]
        used = 0
        for kind, text in units:
            cost = size(text) + 1
            if used + cost > budget and (parts[-1][0] or parts[-1][1]):
                parts.append(([], []))
                used = 0
            parts[-1][0 if kind == "line" else 1].append(text)
            used += cost
        n = len(parts)
        return [
            Box(f"{self.title} ({i}/{n})", tuple(lines), "\n".join(code) if code else None).render()
            for i, (lines, code) in enumerate(parts, 1)
        ]


def _cut(text: str, budget: int) -> list[str]:
    if size(text) < budget:
        return [text]
    pieces, current, used = [], [], 0
    for ch in text:
        w = size(ch)
        if used + w >= budget:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += w
    pieces.append("".join(current))
    return pieces
