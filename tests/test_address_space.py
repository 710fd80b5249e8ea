"""Public address space counted on integer ranges agrees with ipaddress' own set operations."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from audit_toolkit.analysis.address_space import (
    _NOT_PUBLIC,
    PUBLIC_TOTAL,
    PublicUnion,
    public_size,
    reaches_internet,
)

networks = st.builds(lambda address, length: ipaddress.ip_network((address, length), strict=False),
                     st.integers(0, 2**32 - 1), st.integers(0, 32))


def slow_public(nets: list) -> int:
    """The same count by ipaddress alone: collapse, then subtract each non-public range inside."""
    total = 0
    reserved = _NOT_PUBLIC[4]
    for net in ipaddress.collapse_addresses(nets):
        if any(net.subnet_of(r) for r in reserved):
            continue
        total += net.num_addresses - sum(r.num_addresses for r in reserved if r.subnet_of(net))
    return total


@settings(max_examples=300, deadline=None)
@given(st.lists(networks, max_size=8))
def test_public_size_agrees_with_ipaddress(nets):
    assert public_size(nets) == slow_public(nets)


def test_the_whole_public_space_and_its_halves():
    v4 = [ipaddress.ip_network(n) for n in ("0.0.0.0/1", "128.0.0.0/1")]
    assert public_size(v4) == PUBLIC_TOTAL[4] == 2**32 - 592_708_864
    assert reaches_internet(v4, 4, 0) and not reaches_internet(v4[:1], 4, 0)
    assert public_size([ipaddress.ip_network("2000::/3")]) == PUBLIC_TOTAL[6]
    assert public_size([ipaddress.ip_network(n) for n in ("10.0.0.0/8", "192.168.0.0/16")]) == 0
    assert public_size([ipaddress.ip_network("fc00::/7")]) == 0  # unique local


networks6 = st.builds(lambda address, length: ipaddress.IPv6Network((address, length), strict=False),
                      st.sampled_from([0, 2**125, 0x2000 << 112, 0x2001_0db8 << 96, 0xfe80 << 112, 2**128 - 1]),
                      st.integers(0, 128))


@settings(max_examples=300, deadline=None)
@given(st.data(), st.sampled_from([(4, networks), (6, networks6)]))
def test_the_union_kept_as_networks_come_and_go_is_the_union_measured_again(data, family):
    """The replay keeps each group's union (PublicUnion) instead of measuring it after every change:
    after any adds and removes, of networks nested, apart or the same twice, both agree."""
    version, nets = family
    union, held = PublicUnion(version), []
    for net, add in data.draw(st.lists(st.tuples(nets, st.booleans()), max_size=12)):
        if add or net not in held:  # a network is removed only as often as it was added
            union.change(net, 1)
            held.append(net)
        else:
            union.change(net, -1)
            held.remove(net)
        assert union.size == public_size(held)
        assert union.reaches(0) == reaches_internet(held, version, 0)
