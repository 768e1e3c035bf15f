"""argon2id password hashing on a thread pool, so a 30 ms hash never stalls the event loop.

argon2-cffi releases the GIL while hashing, so N threads hash on N cores in parallel while
the loop keeps serving. The hashing threads run at a lower CPU priority (a higher nice
value): when every core is busy hashing, the kernel still schedules the event loop first, so
a login storm slows logins, not every other request. Logins for unknown emails verify
against a dummy hash made with the same parameters: the answer then takes as long as for a
known email with a wrong password.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher as Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHING_NICENESS = 10


def default_threads() -> int:
    """Every core but one: the event loop keeps a core of its own, so a login storm queues
    logins instead of slowing every other request (refresh, JWKS, introspect)."""
    return max(1, (os.cpu_count() or 1) - 1)


def _yield_to_the_loop() -> None:
    # Linux applies nice per thread; elsewhere this is a no-op and hashing just competes.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


def hashing_pool(threads: int) -> ThreadPoolExecutor:
    """The threads passwords are hashed on (the bench measures its raw ceiling on these too)."""
    return ThreadPoolExecutor(threads, thread_name_prefix="argon2", initializer=_yield_to_the_loop)


class PasswordHasher:
    def __init__(
        self,
        *,
        memory_kib: int = 19 * 1024,
        time_cost: int = 2,
        parallelism: int = 1,
        threads: int = 0,
    ) -> None:
        self._argon2 = Argon2(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=Type.ID,
        )
        self.threads = threads or default_threads()
        self._pool = hashing_pool(self.threads)
        self._dummy = self._argon2.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._argon2.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if `password` matches; with no hash (unknown email), a dummy check, False."""
        loop = asyncio.get_running_loop()
        target = self._dummy if password_hash is None else password_hash
        ok = await loop.run_in_executor(self._pool, self._check, target, password)
        return ok and password_hash is not None

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the stored hash was made with other parameters than today's."""
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
