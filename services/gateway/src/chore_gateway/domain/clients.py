"""Who the client is, decided once at the edge.

The peer (the address the connection comes from) is the client, unless the peer is one of
the configured trusted proxy networks (the ingress). Then each trusted hop has appended the
address it saw to `X-Forwarded-For`, so the client is the right-most entry that is *not* a
trusted proxy: everything to its left was written by the client itself and proves nothing.
(MDN "X-Forwarded-For: Selecting an IP address"; nginx's `real_ip_recursive on`.)

A hop that is not an IP address at all ends the walk at the nearest hop vouched for, and the
result is always the address's canonical spelling, so nobody gets a fresh rate-limit key by
writing one address another way (`::1` vs `0:0::1`).
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Final

MAX_HOPS: Final = 16  # X-Forwarded-For entries looked at, from the right
_PEERS_MAX: Final = 1024  # peers whose verdict is remembered


def parse_networks(networks: Iterable[str]) -> list[str]:
    """The networks in canonical form (`10.0.0.0/8`); ValueError names a bad one."""
    parsed = []
    for network in networks:
        try:
            parsed.append(str(ip_network(network.strip(), strict=False)))
        except ValueError:
            raise ValueError(f"{network!r} is not an IP network (e.g. 10.0.0.0/8)") from None
    return parsed


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        found = ip_address(text)
    except ValueError:
        return None
    if isinstance(found, IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return found


class TrustedProxies:
    """The trusted networks, and the client address they imply for a request."""

    __slots__ = ("_networks", "_peers")

    def __init__(self, networks: Iterable[str] = ()) -> None:
        self._networks = tuple(ip_network(n, strict=False) for n in parse_networks(networks))
        # peer -> trusted?; bounded: without an ingress, peers are anyone on the Internet
        self._peers: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._networks)

    def _trusted(self, address: IPv4Address | IPv6Address) -> bool:
        return any(address in network for network in self._networks)

    def trusts_peer(self, peer: str | None) -> bool:
        if peer is None or not self._networks:
            return False
        verdict = self._peers.get(peer)
        if verdict is None:
            address = _address(peer)
            verdict = address is not None and self._trusted(address)
            if len(self._peers) >= _PEERS_MAX:
                self._peers.clear()
            self._peers[peer] = verdict
        return verdict

    def client(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address: the peer, or behind trusted proxies the right-most
        X-Forwarded-For hop that is not one of them."""
        if peer is None:
            return "unknown"
        if not forwarded_for or not self.trusts_peer(peer):
            return peer
        nearest = peer  # the closest hop known to be a trusted proxy's word
        for raw in reversed(forwarded_for.rsplit(",", MAX_HOPS)[-MAX_HOPS:]):
            address = _address(raw.strip())
            if address is None:
                return nearest
            if not self._trusted(address):
                return str(address)
            nearest = str(address)
        return nearest
