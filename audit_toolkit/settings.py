"""Settings, read once: arguments, then environment (AUDIT_TOOLKIT_*), then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError


LANGUAGES = ("ja", "en")  # of messages (and the report); Japanese is the default


def _ports(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.replace(" ", "").split(",") if p)
    except ValueError as e:
        raise ConfigError(f"watched ports must be integers separated by commas, got {text!r}") from e


def _prefix_len(text: str) -> int:
    try:
        return int(text)
    except ValueError as e:
        raise ConfigError(f"AUDIT_TOOLKIT_INTERNET_PREFIX_LEN must be an integer, got {text!r}") from e


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Settings:
    # Ports whose exposure to the internet opens a window (22 = SSH; 3389 = RDP is the usual second).
    watched_ports: tuple[int, ...] = (22,)
    # A CIDR whose prefix length is at most this is "the internet" (0: 0.0.0.0/0 and ::/0).
    internet_prefix_len: int = 0
    display_tz: str = "UTC"
    language: str = "ja"
    # Buckets that receive CloudTrail logs, beside those named by CreateTrail/UpdateTrail in the evidence.
    trail_buckets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        ports = self.watched_ports
        if not ports or not all(_is_int(p) and 1 <= p <= 65535 for p in ports):
            raise ConfigError(f"watched ports must be 1..65535, got {', '.join(map(str, ports)) or 'none'}")
        if not (_is_int(self.internet_prefix_len) and 0 <= self.internet_prefix_len <= 128):
            raise ConfigError(f"internet prefix length must be 0..128, got {self.internet_prefix_len}")
        if self.language not in LANGUAGES:
            raise ConfigError(f"unknown language {str(self.language)[:20]!r}: use one of {', '.join(LANGUAGES)}")
        try:
            ZoneInfo(self.display_tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ConfigError(f"unknown display time zone {self.display_tz!r}: use an IANA name such as Asia/Tokyo") from None

    @classmethod
    def load(cls, **overrides) -> "Settings":
        """Build settings from explicit overrides (None means unset), then the environment."""
        env = os.environ
        values: dict = {}
        if "AUDIT_TOOLKIT_WATCHED_PORTS" in env:
            values["watched_ports"] = _ports(env["AUDIT_TOOLKIT_WATCHED_PORTS"])
        if "AUDIT_TOOLKIT_INTERNET_PREFIX_LEN" in env:
            values["internet_prefix_len"] = _prefix_len(env["AUDIT_TOOLKIT_INTERNET_PREFIX_LEN"])
        if "AUDIT_TOOLKIT_DISPLAY_TZ" in env:
            values["display_tz"] = env["AUDIT_TOOLKIT_DISPLAY_TZ"]
        if "AUDIT_TOOLKIT_LANGUAGE" in env:
            values["language"] = env["AUDIT_TOOLKIT_LANGUAGE"]
        if "AUDIT_TOOLKIT_TRAIL_BUCKETS" in env:
            values["trail_buckets"] = tuple(b for b in env["AUDIT_TOOLKIT_TRAIL_BUCKETS"].replace(" ", "").split(",") if b)
        for key, value in overrides.items():
            if value is None:
                continue
            values[key] = _ports(value) if key == "watched_ports" and isinstance(value, str) else value
        return replace(cls(), **values)
