"""The client's address: `X-Real-IP` only from a trusted proxy, else the socket's peer.

Real sockets on loopback: a peer bound to 127.0.0.2 is "another machine" for the rule.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chore_common.http.app import create_service_app
from chore_common.http.client_address import client_address
from chore_common.settings import SettingsError, load_settings
from chore_common.testing.demo_app import DemoSettings

Ask = Callable[..., Awaitable[str]]


async def whoami(request: web.Request) -> web.Response:
    return web.Response(text=client_address(request))


@pytest.fixture
async def start() -> AsyncIterator[Callable[[list[str]], Awaitable[Ask]]]:
    servers: list[TestServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start_with(trusted: list[str]) -> Ask:
        app = create_service_app(DemoSettings(trusted_proxies=trusted), title="demo")
        app.router.add_get("/whoami", whoami)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)

        async def ask(source: str = "127.0.0.1", **headers: str) -> str:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
            )
            sessions.append(session)
            async with session.get(server.make_url("/whoami"), headers=headers) as resp:
                assert resp.status == 200
                return await resp.text()

        return ask

    yield start_with
    for session in sessions:
        await session.close()
    for server in servers:
        await server.close()


async def test_a_trusted_proxy_names_the_client(start: Callable[..., Awaitable[Ask]]) -> None:
    ask = await start(["127.0.0.0/8"])
    assert await ask(**{"X-Real-IP": "203.0.113.7"}) == "203.0.113.7"
    assert await ask(**{"X-Real-IP": "2001:db8::1"}) == "2001:db8::1"


async def test_without_the_header_the_client_is_the_peer(
    start: Callable[..., Awaitable[Ask]],
) -> None:
    ask = await start(["127.0.0.0/8"])
    assert await ask("127.0.0.2") == "127.0.0.2"


async def test_an_untrusted_peer_cannot_name_another_client(
    start: Callable[..., Awaitable[Ask]],
) -> None:
    ask = await start(["127.0.0.1/32"])
    assert await ask("127.0.0.2", **{"X-Real-IP": "203.0.113.7"}) == "127.0.0.2"
    nobody = await start([])
    assert await nobody(**{"X-Real-IP": "203.0.113.7"}) == "127.0.0.1"


async def test_a_header_that_is_no_address_is_ignored(
    start: Callable[..., Awaitable[Ask]],
) -> None:
    ask = await start(["127.0.0.0/8"])
    assert await ask("127.0.0.3", **{"X-Real-IP": "203.0.113.7, 10.0.0.1"}) == "127.0.0.3"
    assert await ask("127.0.0.3", **{"X-Real-IP": "' or 1=1"}) == "127.0.0.3"


def test_the_default_trusts_loopback_only() -> None:
    trusted = {str(n) for n in DemoSettings().trusted_proxies}
    assert trusted == {"127.0.0.0/8", "::1/128"}


def test_trusted_proxies_come_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEMO_TRUSTED_PROXIES", '["10.0.0.0/8", "fd00::/8"]')
    assert [str(n) for n in load_settings(DemoSettings).trusted_proxies] == [
        "10.0.0.0/8",
        "fd00::/8",
    ]
    monkeypatch.setenv("DEMO_TRUSTED_PROXIES", '["10.0.0.1/8"]')  # host bits: a typo
    with pytest.raises(SettingsError, match="DEMO_TRUSTED_PROXIES"):
        load_settings(DemoSettings)
