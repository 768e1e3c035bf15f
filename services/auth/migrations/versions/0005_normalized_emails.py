"""users.email: stored in the normal form login and sign-up now look addresses up by

Sign-up used to only trim and lower-case, so NFC and NFD spellings of one address, or one
with a zero-width space, made separate accounts. Existing addresses are rewritten in the
new normal form (a frozen copy of chore_auth.domain.accounts.normalize_email). Two rows
that become one address are both left as they are and named in the log: which account is
the mailbox's is for an operator to decide, not a migration.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger('alembic.runtime.migration')

users = sa.table('users', sa.column('id', sa.Uuid), sa.column('email', sa.String))


def normalize_email(email: str) -> str:
    visible = ''.join(c for c in email if unicodedata.category(c) != 'Cf')
    folded = unicodedata.normalize('NFKC', visible).lower()
    return unicodedata.normalize('NFKC', folded).strip()


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.email)).all()
    by_normal: dict[str, list[tuple[object, str]]] = {}
    for user_id, email in rows:
        by_normal.setdefault(normalize_email(email), []).append((user_id, email))
    for normal, owners in by_normal.items():
        if len(owners) > 1:
            # Ids only: addresses stay out of logs.
            log.warning(
                'users %s share one address once normalised: left unchanged',
                ', '.join(str(user_id) for user_id, _ in owners),
            )
            continue
        user_id, email = owners[0]
        if email != normal:
            bind.execute(sa.update(users).where(users.c.id == user_id).values(email=normal))


def downgrade() -> None:
    pass  # the old form is lost, and the new one is a valid address of the same mailbox
