"""One constraint naming convention, so Alembic autogenerate emits stable, droppable names."""

from __future__ import annotations

from typing import Final

from sqlalchemy import MetaData

NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """The MetaData a service declares its tables on."""
    return MetaData(naming_convention=dict(NAMING_CONVENTION))
