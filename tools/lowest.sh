#!/usr/bin/env bash
# `make lowest`: do the dependency bounds tell the truth? In a scratch copy of the tracked
# files, resolve the LOWEST version of every direct dependency the bounds allow (uv's
# lowest-direct resolution), install that, and run the unit tests against it. A lower bound
# that admits a version the code cannot run on fails here instead of in someone's deploy.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-$(command -v uv || echo .uv/bin/uv)}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$scratch"
cd "$scratch"
echo "==> resolving the lowest allowed versions (uv lock --resolution lowest-direct)"
"$OLDPWD/$uv" lock --resolution lowest-direct --quiet 2>/dev/null || "$uv" lock --resolution lowest-direct --quiet
echo "==> installing them into a scratch venv"
UV_PROJECT_ENVIRONMENT="$scratch/.venv" "$OLDPWD/$uv" sync --frozen --all-packages --quiet
"$scratch/.venv/bin/python" - <<'PY'
import importlib.metadata as m
names = ["aiohttp", "pydantic", "sqlalchemy", "aiosqlite", "asyncpg", "nats-py", "prometheus-client",
         "opentelemetry-sdk", "opentelemetry-instrumentation-sqlalchemy", "pyjwt", "cryptography"]
print("    " + ", ".join(f"{n} {m.version(n)}" for n in names))
PY
echo "==> unit tests on the lowest versions"
"$scratch/.venv/bin/pytest" -q -p no:cacheprovider --durations-min=1 tests/*/unit
