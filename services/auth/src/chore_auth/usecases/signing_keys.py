"""Signing-key rotation (operator command): publish the next key now, sign with it later."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chore_auth.usecases.ports import UowFactory


@dataclass(frozen=True)
class Rotated:
    kid: str
    signs_from: datetime
    pruned: int


async def rotate_keys(
    uow_factory: UowFactory,
    new_key: Callable[[], tuple[str, str]],
    *,
    now: datetime,
    publish_delay: timedelta,
    keep_after_retire: timedelta,
) -> Rotated:
    """Add a key that signs from `now + publish_delay`; the keys before it retire then.

    Verifiers refresh their JWKS within the delay, so no token ever names a key they have
    not seen; the retired keys stay published `keep_after_retire` (the token lifetime) so
    tokens they signed keep verifying until they expire.
    """
    kid, pem = new_key()
    signs_from = now + publish_delay
    async with uow_factory() as uow:
        await uow.signing_keys.add(kid, pem, now=now, activates_at=signs_from)
        await uow.signing_keys.retire_all(at=signs_from, except_kid=kid)
        pruned = await uow.signing_keys.delete_retired_before(now - keep_after_retire)
        await uow.commit()
    return Rotated(kid=kid, signs_from=signs_from, pruned=pruned)
