"""SQLAlchemy statement spans from `opentelemetry-instrumentation-sqlalchemy`.

The instrumentation declares SQLAlchemy `< 2.1`, while this platform runs 2.1; the hooks it
uses (the engine's `before_cursor_execute` / `after_cursor_execute` events and
`create_async_engine`) are unchanged in 2.1, so its version check is skipped
(`skip_dep_check`, a keyword of the instrumentor's public `instrument`). Both packages are
pinned to the ranges CI tests (libs/common/pyproject.toml), and
tests/common/integration/test_bus_tracing.py asserts statement spans exist, so an upgrade
that breaks them fails CI rather than silently dropping spans.

Instrumented without an engine, the instrumentor wraps `sqlalchemy.ext.asyncio.
create_async_engine`: every engine created through that module attribute afterwards is
traced (chore_common.db.engine calls it that way for this reason).
"""

from __future__ import annotations

from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.trace import TracerProvider


def instrument_sqlalchemy(provider: TracerProvider) -> None:
    instrumentor = SQLAlchemyInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
