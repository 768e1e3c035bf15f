"""A fifth service from the kit alone; a real one has the skeleton, an env prefix, alembic."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar
from uuid import UUID, uuid4

from aiohttp import web
from pydantic import Field
from sqlalchemy import Column, String, Table, Uuid, insert

from chore_common.assembly import storage_app
from chore_common.contracts.registry import Contract
from chore_common.db import ENGINE, new_metadata
from chore_common.http.openapi import ApiRoutes
from chore_common.http.validation import StrictModel, json_response, parse_body
from chore_common.outbox.relay import RELAY
from chore_common.outbox.table import add_outbox_table
from chore_common.settings import StorageSettings
from chore_common.uow import UnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"  # none here: the test creates the tables
METADATA = new_metadata()
NOTES = Table("notes", METADATA, Column("id", Uuid, primary_key=True), Column("text", String(200)))
add_outbox_table(METADATA)


class NotesSettings(StorageSettings):
    service_name: ClassVar[str] = "notes"


class NoteAddedV1(Contract):  # unregistered: the platform's AsyncAPI lists its own events
    TYPE: ClassVar[str] = "notes.note.added"
    VERSION: ClassVar[int] = 1
    note_id: UUID


class NoteIn(StrictModel):
    text: str = Field(min_length=1, max_length=200)


routes = ApiRoutes()


@routes.post("/notes", body=NoteIn, status=201, tags=("notes",), auth=False)
async def add_note(request: web.Request) -> web.Response:
    note, text = uuid4(), (await parse_body(request, NoteIn)).text
    async with UnitOfWork(request.app[ENGINE], producer="notes", relay=request.app[RELAY]) as uow:
        await uow.conn.execute(insert(NOTES).values(id=note, text=text))
        uow.outbox.add(NoteAddedV1(note_id=note))
        await uow.commit()
    return json_response({"id": str(note), "text": text}, status=201)


def create_app(settings: NotesSettings) -> web.Application:
    app = storage_app(settings, migrations=MIGRATIONS, idempotency=False, verifier=False)
    app.add_routes(routes)
    return app
