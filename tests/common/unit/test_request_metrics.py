"""Request metrics as /metrics shows them: counts, sums and buckets of what was observed."""

from __future__ import annotations

from chore_common.telemetry import metrics


def _samples(text: str, service: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if f'service="{service}"' in line and line.startswith("http_request"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_observations_reach_the_exposition_with_their_buckets() -> None:
    recorder = metrics.RequestMetrics("metrics-unit")
    for seconds in (0.0004, 0.003, 0.003, 7.0):
        recorder.observe("GET", "/items/{id}", 200, seconds)
    recorder.observe("POST", "/items", 422, 0.002)

    seen = _samples(metrics.render()[0].decode(), "metrics-unit")
    get = 'method="GET",route="/items/{id}",service="metrics-unit",status="200"'
    assert seen[f"http_requests_total{{{get}}}"] == 4.0
    assert seen[f"http_request_duration_seconds_count{{{get}}}"] == 4.0
    assert abs(seen[f"http_request_duration_seconds_sum{{{get}}}"] - 7.0064) < 1e-9
    buckets = 'le="{}",method="GET",route="/items/{{id}}",service="metrics-unit",status="200"'
    assert seen[f"http_request_duration_seconds_bucket{{{buckets.format('0.001')}}}"] == 1.0
    assert seen[f"http_request_duration_seconds_bucket{{{buckets.format('0.005')}}}"] == 3.0
    assert seen[f"http_request_duration_seconds_bucket{{{buckets.format('5.0')}}}"] == 3.0
    assert seen[f"http_request_duration_seconds_bucket{{{buckets.format('+Inf')}}}"] == 4.0
    post = 'method="POST",route="/items",service="metrics-unit",status="422"'
    assert seen[f"http_requests_total{{{post}}}"] == 1.0

    # Read twice: nothing is counted again, and later observations add to what was there.
    recorder.observe("GET", "/items/{id}", 200, 0.003)
    again = _samples(metrics.render()[0].decode(), "metrics-unit")
    assert again[f"http_requests_total{{{get}}}"] == 5.0
    assert again[f"http_requests_total{{{post}}}"] == 1.0
