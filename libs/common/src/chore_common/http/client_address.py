"""Who is on the other end: the client's address, decided once at the edge.

The gateway is the edge. It works out the client's address (its own trust rule for
`X-Forwarded-For`, see docs/gateway.md) and always sends it in `X-Real-IP`, overwriting
whatever a client put there. A service believes that header only from a peer in its
`trusted_proxies` networks (`<SVC>_TRUSTED_PROXIES`: loopback by default, as `make run`
runs everything there; the pod network in Kubernetes, where a NetworkPolicy admits only
the gateway and the sibling services). From anyone else the header is the client's own
claim, so the address is the peer's.

```python
key = f"ip:{client_address(request)}"   # per-client throttles, audit fields
```
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Final

from aiohttp import web

from chore_common.keys import SETTINGS

HEADER: Final = "X-Real-IP"
UNKNOWN: Final = "unknown"  # no peer address (a Unix socket)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        found = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return found


def is_trusted(peer: str, networks: Sequence[Network]) -> bool:
    address = _address(peer)
    return address is not None and any(address in network for network in networks)


def client_address(request: web.Request) -> str:
    """The client's address: `X-Real-IP` when the peer is a trusted proxy, else the peer."""
    peer = request.remote or UNKNOWN
    forwarded = request.headers.get(HEADER)
    if forwarded is None:
        return peer
    if not is_trusted(peer, request.config_dict[SETTINGS].trusted_proxies):
        return peer
    address = _address(forwarded)
    # A trusted proxy that sends no address we can read names nobody: fall back to the
    # peer rather than key a throttle on free text.
    return peer if address is None else str(address)
