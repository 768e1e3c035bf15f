"""Storage and messaging adapters: tables, repositories, unit of work, outbox, scheduler."""

# Before any adapter imports chore_common.db: importing that package first trips a circular
# import in chore_common (db.uow -> bus -> bus.consumer -> db.uow) as of commit 8acf564.
import chore_common.bus  # noqa: F401
