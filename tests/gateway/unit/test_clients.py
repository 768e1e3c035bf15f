"""The client's address: the peer, or behind trusted proxies the right-most untrusted hop."""

from __future__ import annotations

import pytest

from chore_gateway.domain.clients import TrustedProxies, parse_networks

INGRESS = TrustedProxies(["10.0.0.0/8", "fd00::/8"])


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_writes() -> None:
    proxies = TrustedProxies()
    assert not proxies
    assert proxies.client("203.0.113.9", "1.2.3.4") == "203.0.113.9"
    assert proxies.client(None, "1.2.3.4") == "unknown"


def test_a_peer_outside_the_trusted_networks_is_the_client() -> None:
    assert INGRESS.client("203.0.113.9", "1.2.3.4, 10.0.0.7") == "203.0.113.9"
    assert not INGRESS.trusts_peer("203.0.113.9")


def test_behind_the_ingress_the_right_most_untrusted_hop_is_the_client() -> None:
    # The ingress (10.1.2.3) appended what it saw (198.51.100.4); the rest is the client's.
    assert INGRESS.client("10.1.2.3", "1.2.3.4, 198.51.100.4") == "198.51.100.4"
    # Another trusted hop on the way (a load balancer at 10.9.9.9) is skipped too.
    assert INGRESS.client("10.1.2.3", "1.2.3.4, 198.51.100.4, 10.9.9.9") == "198.51.100.4"
    assert INGRESS.client("10.1.2.3", "2001:db8::1") == "2001:db8::1"


def test_what_the_client_writes_on_the_left_changes_nothing() -> None:
    honest = INGRESS.client("10.1.2.3", "198.51.100.4")
    for forged in ("6.6.6.6", "10.0.0.1", "garbage", "1.1.1.1, 2.2.2.2", "::1"):
        assert INGRESS.client("10.1.2.3", f"{forged}, 198.51.100.4") == honest


def test_addresses_come_back_in_one_spelling() -> None:
    assert INGRESS.client("10.1.2.3", "2001:DB8:0:0::1") == "2001:db8::1"
    assert INGRESS.client("::ffff:10.1.2.3", "198.51.100.4") == "198.51.100.4"


def test_a_hop_that_is_no_address_stops_at_the_nearest_trusted_one() -> None:
    assert INGRESS.client("10.1.2.3", "<script>") == "10.1.2.3"
    assert INGRESS.client("10.1.2.3", "198.51.100.4, junk, 10.9.9.9") == "10.9.9.9"
    assert INGRESS.client("10.1.2.3", "") == "10.1.2.3"
    assert INGRESS.client("10.1.2.3", "10.5.5.5") == "10.5.5.5"  # all trusted: left-most


def test_only_the_last_hops_are_read() -> None:
    chain = ", ".join(["10.0.0.1"] * 10_000)
    assert INGRESS.client("10.1.2.3", f"198.51.100.4, {chain}") == "10.0.0.1"


def test_the_peer_verdicts_kept_are_bounded() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    for i in range(5000):
        proxies.trusts_peer(f"198.51.{i // 256}.{i % 256}")
    assert len(proxies._peers) <= 1024


def test_networks_are_checked_and_made_canonical() -> None:
    assert parse_networks(["10.0.0.1/8", " fd00::/8"]) == ["10.0.0.0/8", "fd00::/8"]
    with pytest.raises(ValueError, match="not an IP network"):
        parse_networks(["10.0.0.0/33"])
