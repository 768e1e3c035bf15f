"""The tasks database's tables: tasks, offers, reviews, user ratings, disputes, jobs, people,
plus the outbox and inbox.

Datetimes go through `UtcDateTime`: stored in UTC, always read back timezone-aware, on
SQLite (which keeps no zone) as on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)

from chore_common.db import new_metadata
from chore_common.db.types import UtcDateTime
from chore_common.idempotency.table import add_idempotency_table
from chore_common.inbox import add_inbox_table
from chore_common.outbox.table import add_outbox_table
from chore_common.reports.storage import add_reports_table

TS = UtcDateTime

metadata = new_metadata()
OUTBOX = add_outbox_table(metadata)
INBOX = add_inbox_table(metadata)
IDEMPOTENCY_KEYS = add_idempotency_table(metadata)

TASKS = Table(
    "tasks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("category", String(64), nullable=False),
    # Minor units of `currency` (ISO 4217).
    Column("budget_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("due_at", TS, nullable=True),
    # The location: a point in WGS84 degrees (both or neither) and its address.
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("address", String(500), nullable=True),
    Column("status", String(16), nullable=False),
    Column("assignee_id", Uuid, nullable=True),
    Column("offer_id", Uuid, nullable=True),
    Column("cancel_reason", String(500), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    CheckConstraint("budget_cents > 0", name="budget_positive"),
    # Browse pages newest first within a filter: each index ends in the keyset (created_at, id).
    Index("ix_tasks_status_created", "status", "created_at", "id"),
    Index("ix_tasks_owner_created", "owner_id", "created_at", "id"),
    Index("ix_tasks_assignee_created", "assignee_id", "created_at", "id"),
    Index("ix_tasks_created", "created_at", "id"),
    # The other sorts' keysets, and the bounding box `near` narrows to before the distance.
    Index("ix_tasks_budget", "budget_cents", "id"),
    Index("ix_tasks_due", "due_at", "id"),
    Index("ix_tasks_lat_lon", "lat", "lon"),
)
# Full-text search lives beside these tables, built by migration 0006 per database and kept
# out of this metadata: PostgreSQL's generated `tasks.search` tsvector (GIN index), SQLite's
# FTS5 table `tasks_fts` kept in step by triggers. `adapters/search.py` queries them.

OFFERS = Table(
    "offers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("task_id", Uuid, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("tasker_id", Uuid, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("message", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    # The offer's ETag: a tasker's update or withdrawal names the version it read.
    Column("version", Integer, nullable=False),
    Column("updated_at", TS, nullable=False),
    CheckConstraint("price_cents > 0", name="price_positive"),
    Index("ix_offers_task_created", "task_id", "created_at", "id"),
    Index("ix_offers_tasker_task", "tasker_id", "task_id"),
    # One open offer per tasker per task, even when two requests race past the check. Only
    # `open` counts: declined, withdrawn and released offers may sit beside a new one, and a
    # reopened task's declined offers come back only while no other offer of theirs is open.
    Index(
        "uq_offers_open_per_tasker",
        "task_id",
        "tasker_id",
        unique=True,
        postgresql_where=text("status = 'open'"),
        sqlite_where=text("status = 'open'"),
    ),
)

# The owner's edits of a task that has offers: field -> {"from", "to"}, oldest first.
TASK_EDITS = Table(
    "task_edits",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("task_id", Uuid, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("editor_id", Uuid, nullable=False),
    Column("changes", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_task_edits_task_created", "task_id", "created_at", "id"),
)

REVIEWS = Table(
    "reviews",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("task_id", Uuid, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", Uuid, nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    # Hidden until `visible_at` is set: when both sides wrote, or by `reveal_at` (job).
    Column("reveal_at", TS, nullable=False),
    Column("visible_at", TS, nullable=True),
    CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
    # Each side reviews once, even when two requests race past the check.
    UniqueConstraint("task_id", "author_id", name="uq_reviews_task_author"),
    # A user's visible reviews, most recently published first.
    Index("ix_reviews_subject_visible", "subject_id", "visible_at", "id"),
)

# The read model of GET /tasks/users/{id}/reviews: each user's visible ratings added up,
# updated in the transaction that makes a review visible.
USER_RATINGS = Table(
    "user_ratings",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("stars_1", Integer, nullable=False),
    Column("stars_2", Integer, nullable=False),
    Column("stars_3", Integer, nullable=False),
    Column("stars_4", Integer, nullable=False),
    Column("stars_5", Integer, nullable=False),
    Column("updated_at", TS, nullable=False),
)

# One per task (a disputed task never reaches `done` again); open while `resolved_at` is null.
DISPUTES = Table(
    "disputes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "task_id", Uuid, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False, unique=True
    ),
    Column("owner_id", Uuid, nullable=False),
    Column("assignee_id", Uuid, nullable=False),
    Column("title", String(200), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("note", String(500), nullable=True),
    Column("resolved_by", Uuid, nullable=True),
    Column("resolved_at", TS, nullable=True),
    # The admin's queue: open (or resolved) disputes, oldest first.
    Index("ix_disputes_open_created", "resolved_at", "created_at", "id"),
)

# Users' reports of a task or an offer (domain/reports.py), with a copy of what was reported.
REPORTS = add_reports_table(
    metadata,
    "reports",
    Column("target", String(16), nullable=False),
    Column("target_id", Uuid, nullable=False),
    Column("task_id", Uuid, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    reported="target_id",
)

JOBS = Table(
    "jobs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("task_id", Uuid, nullable=False),
    Column("run_at", TS, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("locked_until", TS, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    # The scheduler's claim: due queued jobs, and running ones whose lease lapsed.
    Index("ix_jobs_status_run_at", "status", "run_at"),
    Index("ix_jobs_status_locked", "status", "locked_until"),
    Index("ix_jobs_task", "task_id"),
    Index("ix_jobs_created", "created_at", "id"),
)

# The people read model (migration 0008): names and account statuses from auth's events
# (domain/people.py). No row: tasks has not heard of the user (name unknown, active).
PEOPLE = Table(
    "people",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=True),
    Column("status", String(16), nullable=False),
    Column("updated_at", TS, nullable=False),
    # Browse's "owner not hidden" test looks people up by id; this finds the hidden few.
    Index("ix_people_status", "status"),
)
