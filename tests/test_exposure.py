"""Exposure decided by prefix length and port coverage, never by string match."""

from __future__ import annotations

import pytest

from audit_toolkit.analysis.exposure import exposed_ports
from audit_toolkit.settings import Settings


def change(peer, protocol="tcp", low=22, high=22, direction="ingress", peer_type=None, action="authorize"):
    kind = peer_type or ("cidr_ipv6" if ":" in peer else "cidr_ipv4")
    return {"direction": direction, "peer": peer, "peer_type": kind, "protocol": protocol, "from_port": low, "to_port": high, "action": action}


@pytest.mark.parametrize(
    "rule, ports",
    [
        (change("0.0.0.0/0"), [22]),
        (change("::/0"), [22]),
        (change("203.0.113.9/0"), [22]),  # anonymised, still the whole internet
        (change("0.0.0.0/1"), []),
        (change("10.0.0.0/8"), []),
        (change("0.0.0.0/0", low=0, high=1024), [22]),
        (change("0.0.0.0/0", low=23, high=1024), []),
        (change("0.0.0.0/0", protocol="-1", low=None, high=None), [22]),
        (change("0.0.0.0/0", protocol="udp"), []),
        (change("0.0.0.0/0", direction="egress"), []),
        (change("sg-123", peer_type="security_group"), []),
        (change("0.0.0.0/0", direction=None, action="modify"), [22]),  # direction unknown: counted
        (change("not-a-cidr"), []),
    ],
)
def test_exposed_ports(rule, ports):
    assert exposed_ports(rule, Settings()) == ports


def test_settings_choose_ports_and_prefix():
    settings = Settings(watched_ports=(22, 3389), internet_prefix_len=1)
    assert exposed_ports(change("0.0.0.0/0", low=0, high=65535), settings) == [22, 3389]
    assert exposed_ports(change("128.0.0.0/1", low=3389, high=3389), settings) == [3389]
    assert Settings.load(watched_ports="22, 3389").watched_ports == (22, 3389)
