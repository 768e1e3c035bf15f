"""Auth's figures, each next to its raw ceiling measured in the same run.

- `auth.login_ratio`: logins/s through the real service (HTTP, SQLite, session + refresh
  rows, token signing) vs raw argon2id hashes/s on the same number of threads. Login is
  CPU-bound by design (~30 ms of argon2id each), so everything else must fit in the gaps.
- `auth.login_loop_lag_p99_ms`: the event loop's lag p99 during that login storm: small
  only if hashing really runs off the loop.
- `auth.verify_ratio`: access-token verifications/s with the common verifier (header
  check, kid lookup, PyJWT signature + claims, revocation lookup) vs a raw Ed25519
  signature check with `cryptography` on the same token.

Each run measures raw then service back to back and the figure is the median of the
per-run ratios, so a burst of other work on the machine moves both halves of a pair.
"""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.figures import Figure, median

LOGIN_SECONDS = 3.0
VERIFY_TOKENS = 20_000
PASSWORD = "bench password 123"  # noqa: S105 - a throwaway account on a temp database


# -- logins -------------------------------------------------------------------------------


def _raw_hash_rate(threads: int, seconds: float) -> float:
    """argon2id at the service's parameters, `threads` at a time, as fast as it goes."""
    from concurrent.futures import ThreadPoolExecutor

    from argon2 import PasswordHasher, Type

    hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
    stored = hasher.hash(PASSWORD)
    deadline = time.perf_counter() + seconds
    done = 0

    def worker() -> int:
        n = 0
        while time.perf_counter() < deadline:
            hasher.verify(stored, PASSWORD)
            n += 1
        return n

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        done = sum(pool.map(lambda _: worker(), range(threads)))
    return done / (time.perf_counter() - started)


async def _login_storm(base: str, emails: list[str], seconds: float) -> tuple[float, list[float]]:
    """Logins/s with enough in flight to keep every hashing thread busy; loop lag samples."""
    lags: list[float] = []
    stop = asyncio.Event()

    async def watch_lag() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.005)
            lags.append((loop.time() - before - 0.005) * 1000)

    done = 0

    async def client(http: aiohttp.ClientSession, email: str, deadline: float) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            async with http.post(
                f"{base}/auth/login", json={"email": email, "password": PASSWORD}
            ) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()
            done += 1

    async with aiohttp.ClientSession() as http:
        watcher = asyncio.create_task(watch_lag())
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(client(http, e, deadline) for e in emails))
        elapsed = time.perf_counter() - started
        stop.set()
        await watcher
    return done / elapsed, lags


async def _login_figures(runs: int) -> list[Figure]:
    from chore_auth.app import create_app
    from chore_auth.settings import AuthSettings
    from chore_common.testing.nats import NatsServer, free_port

    threads = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        nats = NatsServer(Path(tmp) / "nats").start()
        try:
            port = free_port()
            settings = AuthSettings(
                port=port,
                database_url=f"sqlite+aiosqlite:///{tmp}/auth.db",
                nats_url=nats.url,
                var_dir=Path(tmp),
                hash_threads=threads,
                log_level="WARNING",
            )
            runner = web.AppRunner(create_app(settings), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            base = f"http://127.0.0.1:{port}"
            emails = [f"bench-{uuid.uuid4().hex[:8]}@example.com" for _ in range(threads * 4)]
            async with aiohttp.ClientSession() as http:
                for email in emails:
                    body = {"email": email, "password": PASSWORD, "name": "B", "role": "client"}
                    async with http.post(f"{base}/auth/register", json=body) as resp:
                        assert resp.status == 201, await resp.text()
            await _login_storm(base, emails, 1.0)  # warm-up
            raws, rates, ratios, lag_p99s = [], [], [], []
            for _ in range(runs):
                raw = await asyncio.to_thread(_raw_hash_rate, threads, LOGIN_SECONDS)
                rate, lags = await _login_storm(base, emails, LOGIN_SECONDS)
                raws.append(raw)
                rates.append(rate)
                ratios.append(rate / raw)
                lag_p99s.append(statistics.quantiles(lags, n=100)[98])
            await runner.cleanup()
        finally:
            nats.stop()
    note = f"{threads} hashing threads, argon2id m=19456 t=2 p=1"
    return [
        Figure(
            name="auth.login_ratio",
            value=median(rates),
            unit="logins/s",
            ceiling=median(raws),
            ratio=median(ratios),
            target=">= 0.80",
            note=note,
        ),
        Figure(
            name="auth.login_loop_lag_p99_ms",
            value=median(lag_p99s),
            unit="ms",
            target="value <= 20",
            note="event-loop lag p99 during the login storm",
        ),
    ]


# -- verification --------------------------------------------------------------------------


def _verify_figures(runs: int) -> list[Figure]:
    import jwt
    from chore_common.auth import RevokedSessions, StaticKeys, TokenVerifier, thumbprint
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    kid = thumbprint(key.public_key())
    now = int(time.time())
    token = jwt.encode(
        {
            "sub": str(uuid.uuid4()),
            "sid": str(uuid.uuid4()),
            "role": "client",
            "iat": now,
            "exp": now + 900,
            "iss": "chore-auth",
            "aud": "chore-platform",
            "jti": str(uuid.uuid4()),
        },
        key,
        algorithm="EdDSA",
        headers={"kid": kid},
    )
    revoked = RevokedSessions()
    for _ in range(1000):  # a realistic revocation list to look up in
        revoked.revoke(str(uuid.uuid4()))
    verifier = TokenVerifier(
        StaticKeys({kid: key.public_key()}),
        issuer="chore-auth",
        audience="chore-platform",
        revoked=revoked,
    )
    public = key.public_key()
    signing_input, _, sig = token.rpartition(".")
    signature = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    message = signing_input.encode()

    def raw_rate() -> float:
        started = time.perf_counter()
        for _ in range(VERIFY_TOKENS):
            public.verify(signature, message)
        return VERIFY_TOKENS / (time.perf_counter() - started)

    async def service_rate() -> float:
        started = time.perf_counter()
        for _ in range(VERIFY_TOKENS):
            await verifier.verify(token)
        return VERIFY_TOKENS / (time.perf_counter() - started)

    raws, rates, ratios = [], [], []
    for _ in range(runs):
        raw = raw_rate()
        rate = asyncio.run(service_rate())
        raws.append(raw)
        rates.append(rate)
        ratios.append(rate / raw)
    return [
        Figure(
            name="auth.verify_ratio",
            value=median(rates),
            unit="verifications/s",
            ceiling=median(raws),
            ratio=median(ratios),
            target=">= 0.60",
            note="common TokenVerifier.verify vs raw Ed25519 verify (one core)",
        )
    ]


def run(runs: int) -> list[Figure]:
    figures = _verify_figures(runs)
    figures += asyncio.run(_login_figures(runs))
    return figures


if __name__ == "__main__":
    for figure in run(3):
        print(figure.as_json())
