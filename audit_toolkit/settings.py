"""Settings, read once: arguments, then environment (AUDIT_TOOLKIT_*), then defaults."""

from __future__ import annotations

import ipaddress
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


def _int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError as e:
        raise ConfigError(f"{name} must be an integer, got {text!r}") from e


def _size(text: str) -> int:
    try:
        return int(text)
    except ValueError as e:
        message = f"AUDIT_TOOLKIT_MAX_FILE_BYTES must be a number of bytes, got {text!r}"
        raise ConfigError(message) from e


# Abbreviations an engineer types. Unambiguous ones are taken as their zone; the others are answered
# with the IANA name to use (IST is India, Israel or Ireland; PST's zone also keeps PDT in summer).
# Asked before tzdata is: its legacy EST and MST are fixed offsets, an hour off New York and Denver in summer.
_TZ_TAKEN = {"JST": "Asia/Tokyo", "KST": "Asia/Seoul", "Z": "UTC", "UTC": "UTC", "GMT": "UTC"}
_TZ_ASKED = {"PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "PT": "America/Los_Angeles",
             "EST": "America/New_York", "EDT": "America/New_York", "ET": "America/New_York",
             "CST": "America/Chicago or Asia/Shanghai", "CDT": "America/Chicago", "CT": "America/Chicago",
             "MST": "America/Denver or America/Phoenix", "MDT": "America/Denver", "MT": "America/Denver",
             "IST": "Asia/Kolkata", "AEST": "Australia/Sydney", "BST": "Europe/London", "CEST": "Europe/Berlin",
             "SGT": "Asia/Singapore"}


def zone_name(text: str) -> str:
    """The IANA zone for what a user typed: an IANA name, or JST / KST / UTC in any case; anything
    else is an error that names the zone to use (an IANA name in another case: that name)."""
    name = _TZ_TAKEN.get(text.upper(), text) if isinstance(text, str) else text
    try:
        if isinstance(text, str) and text.upper() in _TZ_ASKED:
            raise ValueError(text)
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        hint = "Asia/Tokyo"
        if isinstance(text, str):
            from zoneinfo import available_timezones

            cased = [z for z in available_timezones() if z.lower() == text.lower()]
            hint = _TZ_ASKED.get(text.upper()) or (cased[0] if cased else hint)
        raise ConfigError(f"unknown time zone {text!r}: use an IANA name such as {hint}") from None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Settings:
    # Ports whose exposure to the internet opens a window (22 = SSH; 3389 = RDP is the usual second).
    watched_ports: tuple[int, ...] = (22,)
    # N: a group's CIDRs on a port are "the internet" when together they let in at least 1/2**N of
    # the family's public space (0: all of it, as 0.0.0.0/0 or 0.0.0.0/1 with 128.0.0.0/1 do).
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
    # A burst: one identity reading the passwords or user data of this many instances within
    # this many minutes (instance_secrets_enumerated).
    burst_instances: int = 5
    burst_minutes: int = 60
    # ... or this many secrets or SecureString parameters read with decryption (secrets_read_burst).
    burst_secrets: int = 10
    # Instance families (the letters before the generation: p, g, inf, ...) and a count at once
    # whose RunInstances is unusual (ec2_unusual_instances): GPU and accelerated families.
    unusual_instance_families: tuple[str, ...] = ("p", "g", "gr", "inf", "trn", "dl", "f", "vt")
    unusual_instance_count: int = 10
    # Identities (user or role ARNs) expected to use Amazon Bedrock; any other is a hit.
    bedrock_identities: tuple[str, ...] = ()
    # Days the trail's logs must be kept: a lifecycle rule on a trail bucket that expires or moves
    # them sooner is a `trail_bucket_changed` hit (a year: what most audit regimes ask of logs).
    log_retention_days: int = 365
    # An evidence file whose text (inflated) is larger is rejected unread. CloudTrail delivers a
    # file about every five minutes per account and region, a few MB of text; a 200 MB record fits.
    max_file_bytes: int = 256 << 20

    def __post_init__(self) -> None:
        ports = self.watched_ports
        if not ports or not all(_is_int(p) and 1 <= p <= 65535 for p in ports):
            raise ConfigError(f"watched ports must be 1..65535, got {', '.join(map(str, ports)) or 'none'}")
        if not (_is_int(self.internet_prefix_len) and 0 <= self.internet_prefix_len <= 128):
            raise ConfigError(f"internet prefix length must be 0..128, got {self.internet_prefix_len}")
        if self.language not in LANGUAGES:
            raise ConfigError(f"unknown language {str(self.language)[:20]!r}: use one of {', '.join(LANGUAGES)}")
        if not (_is_int(self.session_bytes) and self.session_bytes >= 0):
            raise ConfigError(f"session bytes must be a whole number, got {self.session_bytes!r}")
        for net in self.known_networks:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError(f"known network {net!r} is not a CIDR such as 203.0.113.0/24") \
                    from None
        counts = (self.burst_instances, self.burst_minutes, self.burst_secrets,
                  self.unusual_instance_count)
        if not all(_is_int(n) and n >= 1 for n in counts):
            raise ConfigError("burst instances, minutes and secrets and the unusual instance count "
                              f"must be 1 or more, got {', '.join(map(str, counts))}")
        if not (_is_int(self.log_retention_days) and self.log_retention_days >= 1):
            raise ConfigError(f"log retention must be 1 day or more, got {self.log_retention_days}")
        if not (_is_int(self.max_file_bytes) and self.max_file_bytes > 0):
            raise ConfigError("the file size limit must be a positive number of bytes, "
                              f"got {self.max_file_bytes}")
        object.__setattr__(self, "display_tz", zone_name(self.display_tz))  # JST -> Asia/Tokyo

    @classmethod
    def load(cls, **overrides) -> "Settings":
        """Build settings from explicit overrides (None means unset), then the environment."""
        env = os.environ
        values: dict = {}
        if "AUDIT_TOOLKIT_WATCHED_PORTS" in env:
            values["watched_ports"] = _ports(env["AUDIT_TOOLKIT_WATCHED_PORTS"])
        numbers = ("internet_prefix_len", "log_retention_days", "burst_instances", "burst_minutes",
                   "unusual_instance_count", "burst_secrets", "session_bytes")
        for key in numbers:
            name = f"AUDIT_TOOLKIT_{key.upper()}"
            if name in env:
                values[key] = _int(name, env[name])
        if "AUDIT_TOOLKIT_DISPLAY_TZ" in env:
            values["display_tz"] = env["AUDIT_TOOLKIT_DISPLAY_TZ"]
        if "AUDIT_TOOLKIT_LANGUAGE" in env:
            values["language"] = env["AUDIT_TOOLKIT_LANGUAGE"]
        if "AUDIT_TOOLKIT_MAX_FILE_BYTES" in env:
            values["max_file_bytes"] = _size(env["AUDIT_TOOLKIT_MAX_FILE_BYTES"])
        for key in ("trail_buckets", "bedrock_identities", "unusual_instance_families", "known_networks"):
            name = f"AUDIT_TOOLKIT_{key.upper()}"
            if name in env:
                values[key] = tuple(v for v in env[name].replace(" ", "").split(",") if v)
        for key, value in overrides.items():
            if value is None:
                continue
            values[key] = _ports(value) if key == "watched_ports" and isinstance(value, str) else value
        return replace(cls(), **values)
