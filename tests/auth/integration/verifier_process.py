"""A stand-in for another service (tasks, messaging): verifies auth's tokens with the common
verifier only — JWKS over HTTP, revocations from NATS — in its own process.

    python tests/auth/integration/verifier_process.py --port P --jwks URL --nats URL

Serves `GET /whoami` (bearer token required) and prints "ready" once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import ClassVar

from aiohttp import web
from pydantic_settings import SettingsConfigDict

from chore_common.auth import bearer_middleware, principal, verifier_context
from chore_common.bus.connection import nats_context
from chore_common.http.app import create_service_app
from chore_common.http.openapi import ApiRoutes
from chore_common.settings import ServiceSettings

routes = ApiRoutes()


class VerifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VERIFIER_", extra="ignore")
    service_name: ClassVar[str] = "verifier"


@routes.get("/whoami")
async def whoami(request: web.Request) -> web.Response:
    who = principal(request)
    return web.json_response({"user_id": str(who.user_id), "session_id": str(who.session_id)})


async def serve(settings: VerifierSettings) -> None:
    app = create_service_app(settings, title="verifier")
    app.add_routes(routes)
    app.middlewares.append(bearer_middleware)
    app.cleanup_ctx.append(nats_context(settings, provision_streams=False))
    app.cleanup_ctx.append(verifier_context(settings))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks", required=True)
    parser.add_argument("--nats", required=True)
    args = parser.parse_args()
    settings = VerifierSettings(port=args.port, jwks_url=args.jwks, nats_url=args.nats)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
