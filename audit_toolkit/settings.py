"""Settings, read once: arguments, then environment (AUDIT_TOOLKIT_*), then defaults."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError


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
    # An accepted connection (flow records of one remote port) that exchanged more bytes than this,
    # both ways, is a session; below it, handshakes, scans and failed logins.
    session_bytes: int = 10_000
    # The organization's own networks (CIDRs): a source in one of them is not an unknown address.
    known_networks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        ports = self.watched_ports
        if not ports or not all(_is_int(p) and 1 <= p <= 65535 for p in ports):
            raise ConfigError(f"watched ports must be 1..65535, got {', '.join(map(str, ports)) or 'none'}")
        if not (_is_int(self.internet_prefix_len) and 0 <= self.internet_prefix_len <= 128):
            raise ConfigError(f"internet prefix length must be 0..128, got {self.internet_prefix_len}")
        if not (_is_int(self.session_bytes) and self.session_bytes >= 0):
            raise ConfigError(f"session bytes must be a whole number, got {self.session_bytes!r}")
        for net in self.known_networks:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError(f"known network {net!r} is not a CIDR such as 203.0.113.0/24") \
                    from None
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
        if "AUDIT_TOOLKIT_SESSION_BYTES" in env:
            text = env["AUDIT_TOOLKIT_SESSION_BYTES"]
            try:
                values["session_bytes"] = int(text)
            except ValueError as e:
                raise ConfigError(f"AUDIT_TOOLKIT_SESSION_BYTES must be an integer, got {text!r}") from e
        if "AUDIT_TOOLKIT_KNOWN_NETWORKS" in env:
            networks = env["AUDIT_TOOLKIT_KNOWN_NETWORKS"].replace(" ", "").split(",")
            values["known_networks"] = tuple(n for n in networks if n)
        for key, value in overrides.items():
            if value is None:
                continue
            values[key] = _ports(value) if key == "watched_ports" and isinstance(value, str) else value
        return replace(cls(), **values)
