"""The standard OTEL_* variables, as the OpenTelemetry spec defines them, seen from outside a
served process whose spans go to an in-process OTLP/HTTP receiver."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from common.served import Served

from chore_common.testing.otlp import OtlpReceiver, ReceivedSpan

REQUESTS = 20


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def serve_and_call(requests: int = REQUESTS, **env: str) -> tuple[int, str, str]:
    # Spans leave in the exporter's batches; a stop flushes what is left.
    server = Served(OTEL_BSP_SCHEDULE_DELAY="100", **env)
    try:
        server.wait_ready()
        for n in range(requests):
            assert server.request(f"/items/{n}")[0] == 404
    finally:
        code, out, err = server.stop()
    return code, out, err


def server_spans(receiver: OtlpReceiver, timeout: float = 3.0) -> list[ReceivedSpan]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [s for s in receiver.spans if s.kind == "SERVER" and s.name.endswith("{id}")]
        if len(found) >= REQUESTS:
            break
        time.sleep(0.05)
    return [s for s in receiver.spans if s.kind == "SERVER" and s.name == "GET /items/{id}"]


def test_the_otlp_endpoint_alone_exports_every_request_over_otlp(receiver: OtlpReceiver) -> None:
    code, _, err = serve_and_call(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    assert code == 0, err
    spans = server_spans(receiver)
    assert len(spans) == REQUESTS
    assert {s.service for s in spans} == {"demo"}  # the code's name when nothing else says


def test_otel_service_name_wins_over_the_codes_name(receiver: OtlpReceiver) -> None:
    code, _, err = serve_and_call(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_SERVICE_NAME="billing-preview"
    )
    assert code == 0, err
    assert {s.service for s in server_spans(receiver)} == {"billing-preview"}


def test_the_service_name_in_resource_attributes_also_wins(receiver: OtlpReceiver) -> None:
    code, _, err = serve_and_call(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_RESOURCE_ATTRIBUTES="service.name=from-attributes,deployment.environment=test",
    )
    assert code == 0, err
    assert {s.service for s in server_spans(receiver)} == {"from-attributes"}


@pytest.mark.parametrize(
    ("sampler", "arg", "expected"),
    [
        ("always_off", "", 0),
        ("traceidratio", "0", 0),
        ("parentbased_traceidratio", "1.0", REQUESTS),
        ("always_on", "", REQUESTS),
    ],
)
def test_the_sampler_variables_decide_what_is_recorded(
    receiver: OtlpReceiver, sampler: str, arg: str, expected: int
) -> None:
    code, out, err = serve_and_call(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_TRACES_SAMPLER=sampler,
        OTEL_TRACES_SAMPLER_ARG=arg,
    )
    assert code == 0, err
    assert len(server_spans(receiver, timeout=3.0 if expected else 1.0)) == expected
    # Sampled or not, every access line still carries its request's trace id.
    access = [line for line in out.splitlines() if '"http.request"' in line and "/items/" in line]
    assert len(access) == REQUESTS
    assert all('"trace_id"' in line for line in access)


def test_a_ratio_sampler_records_about_its_share(receiver: OtlpReceiver) -> None:
    code, _, err = serve_and_call(
        requests=200,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0.25",
    )
    assert code == 0, err
    time.sleep(0.5)
    recorded = len([s for s in receiver.spans if s.kind == "SERVER"])
    assert 20 <= recorded <= 90  # 50 expected; binomial(200, 0.25) stays in here


def test_sdk_disabled_exports_nothing_even_with_an_endpoint(receiver: OtlpReceiver) -> None:
    code, _, err = serve_and_call(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_SDK_DISABLED="true"
    )
    assert code == 0, err
    time.sleep(0.5)
    assert receiver.spans == []


def test_otel_traces_exporter_none_exports_nothing(receiver: OtlpReceiver) -> None:
    code, _, err = serve_and_call(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_TRACES_EXPORTER="none"
    )
    assert code == 0, err
    time.sleep(0.5)
    assert receiver.spans == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),  # its exporter package is not installed
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
    ],
)
def test_a_protocol_or_exporter_it_cannot_honour_fails_start_with_one_line(
    variable: str, value: str
) -> None:
    server = Served(**{"OTEL_TRACES_EXPORTER": "otlp", variable: value})
    code, _, err = server.wait()
    assert code != 0
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    assert variable in lines[0]
    assert "Traceback" not in err
