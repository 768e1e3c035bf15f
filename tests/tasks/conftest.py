"""Tasks tests. chore_common.bus goes first: importing chore_common.db before it trips a
circular import in chore_common (db.uow -> bus -> bus.consumer -> db.uow) as of 8acf564."""

import chore_common.bus  # noqa: F401
