"""pytest plugin (enabled with `-p chore_common.testing.plugin`): real dependencies on free ports.

Fixtures chain server -> client -> app, as in nats.py's own test suite:
- `nats_server`: one JetStream nats-server for the session (temp store).
- `nats_factory`: fresh servers a test may stop, kill and restart.
- `db_backend`: "postgres" or "sqlite" (printed in the report header).
- `database_url`: a new empty database per test, dropped after.
- `spans`: the spans finished during the test, as an exporter would receive them.
- `issuer`: a stand-in for auth that signs tokens and serves its JWKS on a free port.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from chore_common.telemetry import tracing
from chore_common.testing.databases import chosen_backend, throwaway_database
from chore_common.testing.issuer import Issuer, serve_jwks
from chore_common.testing.nats import NatsServer


def pytest_report_header(config: pytest.Config) -> str:
    return f"chore: database backend = {chosen_backend()}"


@pytest.fixture(scope="session")
def db_backend() -> str:
    return chosen_backend()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()


@pytest.fixture
def nats_factory(tmp_path: Path) -> Iterator[Callable[[], NatsServer]]:
    started: list[NatsServer] = []

    def make() -> NatsServer:
        server = NatsServer(tmp_path / f"nats-{len(started)}").start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop(kill=True)


@pytest.fixture
def database_factory(db_backend: str, tmp_path: Path) -> Iterator[Callable[[], str]]:
    with ExitStack() as stack:

        def make() -> str:
            return stack.enter_context(throwaway_database(db_backend, tmp_path))

        yield make


@pytest.fixture
def database_url(database_factory: Callable[[], str]) -> str:
    return database_factory()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans finished during this test, as an exporter receives them (the SDK has no
    way to remove a processor: after the test this one's exporter drops what it gets)."""
    tracing.configure_tracing("tests")  # the platform's SDK provider, configured once
    exporter = InMemorySpanExporter()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    async with serve_jwks() as made:
        yield made
