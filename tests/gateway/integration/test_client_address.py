"""The client's address, decided at the gateway: what the rate limit keys on and what the
services get in X-Real-IP, with and without a trusted ingress in front."""

from __future__ import annotations

import pytest

from chore_common.settings import SettingsError, load_settings
from chore_gateway.settings import GatewaySettings

from .conftest import StartGateway, StartUpstream

# The test client plays the ingress: the k8s overlays trust the pod network the ingress
# controller's pods live in; here that is loopback.
INGRESS_NETWORK = ["127.0.0.0/8"]


async def test_behind_the_ingress_a_client_written_forwarded_for_cannot_change_its_key(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway(
        {"tasks": [up]},
        rate_limit_rps=0.01,
        rate_limit_burst=3,
        trusted_proxies=INGRESS_NETWORK,
    )
    # Each request: what the client wrote, then the address the ingress saw (198.51.100.4).
    forged = ["1.1.1.1", "2.2.2.2, 3.3.3.3", "10.0.0.1", "::1", "not-an-ip", "198.51.100.5"]
    statuses = []
    for value in forged:
        resp = await gw.get(
            "/tasks/echo",
            headers={"X-Forwarded-For": f"{value}, 198.51.100.4", "X-Real-IP": value},
        )
        statuses.append(resp.status)
        if resp.status == 200:
            seen = (await resp.json())["headers"]
            assert seen["X-Real-IP"] == "198.51.100.4"
            assert seen["X-Forwarded-For"] == f"{value}, 198.51.100.4, 127.0.0.1"
    assert statuses == [200, 200, 200, 429, 429, 429]
    # Another client behind the same ingress has a bucket of its own.
    resp = await gw.get("/tasks/echo", headers={"X-Forwarded-For": "198.51.100.7"})
    assert resp.status == 200
    assert (await resp.json())["headers"]["X-Real-IP"] == "198.51.100.7"


async def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_writes(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway({"tasks": [up]}, rate_limit_rps=0.01, rate_limit_burst=2)
    statuses = []
    for i in range(3):
        resp = await gw.get(
            "/tasks/echo",
            headers={"X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"203.0.113.{i}"},
        )
        statuses.append(resp.status)
        if resp.status == 200:
            seen = (await resp.json())["headers"]
            assert seen["X-Real-IP"] == "127.0.0.1"
            assert seen["X-Forwarded-For"] == "127.0.0.1"
    assert statuses == [200, 200, 429]


def test_the_old_boolean_setting_is_refused_with_its_replacement_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_TRUST_FORWARDED_FOR", "true")
    with pytest.raises(SettingsError, match="GATEWAY_TRUSTED_PROXIES"):
        load_settings(GatewaySettings)
    monkeypatch.delenv("GATEWAY_TRUST_FORWARDED_FOR")
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", '["10.0.0.0/33"]')
    with pytest.raises(SettingsError, match="GATEWAY_TRUSTED_PROXIES"):
        load_settings(GatewaySettings)
    # A network with host bits set is a typo, refused like any other bad value (the kit's
    # setting, which every service shares).
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", '["10.1.2.3/8", "fd00::/8"]')
    with pytest.raises(SettingsError, match="GATEWAY_TRUSTED_PROXIES"):
        load_settings(GatewaySettings)
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", '["10.0.0.0/8", "fd00::/8"]')
    networks = load_settings(GatewaySettings).trusted_proxies
    assert [str(network) for network in networks] == ["10.0.0.0/8", "fd00::/8"]
