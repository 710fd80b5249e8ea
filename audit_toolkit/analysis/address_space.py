"""How much of the public internet a set of CIDRs lets in (no pandas: the Lambda imports it bare).

"Public" is every address minus the ranges IANA's special-purpose registries mark not globally
reachable (private, loopback, link-local, shared, documentation, benchmarking, multicast, reserved)
and, for IPv6, everything outside global unicast (2000::/3). A window opens when the union of a
group's CIDRs on a port covers at least 1/2**N of its family's public space, N being the setting
`internet_prefix_len` (0: all of it, as 0.0.0.0/0 or ::/0 does; 0.0.0.0/1 with 128.0.0.0/1 too).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NOT_PUBLIC = {
    4: list(ipaddress.collapse_addresses(ipaddress.IPv4Network(n) for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"))),
    6: list(ipaddress.collapse_addresses([
        *ipaddress.IPv6Network("::/0").address_exclude(ipaddress.IPv6Network("2000::/3")),
        *map(ipaddress.IPv6Network, ("2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20")),
    ])),
}
# The non-public ranges as (first, last) integers: comparing integers is 50x faster than subnet_of.
_RESERVED = {v: [(int(n.network_address), int(n.broadcast_address)) for n in nets]
             for v, nets in _NOT_PUBLIC.items()}


def _public(first: int, last: int, version: int) -> int:
    """Public addresses from `first` to `last` (non-public ranges are disjoint: they subtract)."""
    size = last - first + 1
    for low, high in _RESERVED[version]:
        overlap = min(last, high) - max(first, low) + 1
        if overlap > 0:
            size -= overlap
    return size


def public_size(networks: Iterable[Network]) -> int:
    """Public addresses in the union of networks of one family (overlaps counted once)."""
    spans = sorted((int(n.network_address), int(n.broadcast_address), n.version) for n in networks)
    total, current = 0, None
    for first, last, version in spans:
        if current is not None and first <= current[1] + 1:
            current = (current[0], max(current[1], last), version)
            continue
        if current is not None:
            total += _public(*current)
        current = (first, last, version)
    return total + (_public(*current) if current is not None else 0)


@lru_cache(maxsize=65536)
def network_public(network: Network) -> int:
    """Public addresses in one network (cached: the same rules are measured again and again)."""
    return _public(int(network.network_address), int(network.broadcast_address), network.version)


PUBLIC_TOTAL = {4: public_size([ipaddress.IPv4Network("0.0.0.0/0")]),
                6: public_size([ipaddress.IPv6Network("::/0")])}


def reaches_internet(networks: Iterable[Network], version: int, internet_prefix_len: int) -> bool:
    """Whether the union covers at least 1/2**internet_prefix_len of the family's public space."""
    size = public_size(networks)
    return size > 0 and size << internet_prefix_len >= PUBLIC_TOTAL[version]


class PublicUnion:
    """The public addresses a multiset of networks of one family lets in together, kept as they
    are added and removed: a binary trie of the networks (path-compressed: at most two nodes a
    network), each node holding how often it is held and the public addresses held under it. CIDRs
    are nested or apart, so a change costs one walk from the root (at most 33 or 129 nodes), never
    a pass over the networks held: the replay measures a group after each change."""

    def __init__(self, version: int) -> None:
        self.version, self.bits = version, 32 if version == 4 else 128
        self._root = self._node(0, 0)

    @property
    def size(self) -> int:
        return self._root[_COVERED]

    def reaches(self, internet_prefix_len: int) -> bool:
        """As reaches_internet, of the networks held now."""
        return self.size > 0 and self.size << internet_prefix_len >= PUBLIC_TOTAL[self.version]

    def change(self, network: Network, step: int) -> None:
        """Hold `network` once more (step 1) or once less (step -1)."""
        first, length = int(network.network_address), network.prefixlen
        node, path = self._root, [self._root]
        while node[_FIRST] != first or node[_LENGTH] != length:
            bit = first >> (self.bits - 1 - node[_LENGTH]) & 1
            child = node[_KIDS][bit]
            if child is None:
                child = self._node(first, length)
            elif not self._holds(child, first, length):
                child = self._join(child, first, length)
            node[_KIDS][bit] = node = child
            path.append(node)
        node[_COUNT] += step
        for node in reversed(path):
            node[_COVERED] = node[_PUBLIC] if node[_COUNT] > 0 else sum(
                k[_COVERED] for k in node[_KIDS] if k is not None)

    def _holds(self, node: list, first: int, length: int) -> bool:
        shift = self.bits - node[_LENGTH]
        return node[_LENGTH] <= length and first >> shift == node[_FIRST] >> shift

    def _join(self, child: list, first: int, length: int) -> list:
        """The node taking `child`'s place: (first, length) over it, or where the two part."""
        common = min(self.bits - (first ^ child[_FIRST]).bit_length(), length, child[_LENGTH])
        shift = self.bits - common
        joint = self._node(first >> shift << shift if shift < self.bits else 0, common)
        joint[_KIDS][child[_FIRST] >> (shift - 1) & 1] = child
        return joint

    def _node(self, first: int, length: int) -> list:
        last = first + (1 << (self.bits - length)) - 1
        return [first, length, 0, 0, _public(first, last, self.version), [None, None]]


_FIRST, _LENGTH, _COUNT, _COVERED, _PUBLIC, _KIDS = range(6)
