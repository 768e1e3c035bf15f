"""The kit carries a new service: fifth_service.py (under 60 lines) serves, validates,
documents, measures and publishes its event through the outbox like the four others."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest

from chore_common.contracts.envelope import Envelope
from chore_common.db import create_engine
from chore_common.testing.apps import app_starter
from chore_common.testing.nats import NatsServer

from .fifth_service import METADATA, NoteAddedV1, NotesSettings, create_app

pytestmark = pytest.mark.db
SOURCE = Path(__file__).with_name("fifth_service.py")


def test_the_fifth_service_is_under_sixty_lines() -> None:
    assert len(SOURCE.read_text().splitlines()) < 60


async def test_a_note_is_stored_documented_measured_and_published(
    database_url: str, nats_server: NatsServer, tmp_path: Path
) -> None:
    engine = create_engine(database_url, pool_size=1)
    async with engine.begin() as conn:  # what the service's migrations would do
        await conn.run_sync(METADATA.create_all)
    await engine.dispose()
    bus = await nats.connect(nats_server.url)
    js = bus.jetstream()
    await js.add_stream(name="NOTES", subjects=["notes.>"])  # a StreamSpec, in a real service
    events = await js.subscribe("notes.>")
    settings = NotesSettings(
        port=0, database_url=database_url, nats_url=nats_server.url, var_dir=tmp_path
    )
    try:
        async with app_starter(create_app, settings) as start:
            client = await start(migrate_on_start=False)

            created = await client.post("/notes", json={"text": "water the plants"})
            assert created.status == 201
            note = await created.json()
            assert note["text"] == "water the plants"

            refused = await client.post("/notes", json={"text": ""})
            assert refused.status == 422
            assert refused.content_type == "application/problem+json"

            message = await events.next_msg(timeout=10)
            event = Envelope.from_bytes(message.data)
            assert event.type == NoteAddedV1.TYPE
            assert str(event.payload(NoteAddedV1).note_id) == note["id"]
            with pytest.raises(nats.errors.TimeoutError):  # the refused note published nothing
                await events.next_msg(timeout=0.5)

            document = await (await client.get("/openapi.json")).json()
            assert "/notes" in document["paths"]
            metrics = await (await client.get("/metrics")).text()
            assert 'route="/notes"' in metrics
            assert (await client.get("/readyz")).status == 200
    finally:
        await bus.close()
