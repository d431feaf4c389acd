"""/metrics exposes requests, latency, scores, decisions, selection and provider; health
and readiness."""

from __future__ import annotations

import re

from tests.serving.conftest import RISK, headers


def _value(text: str, pattern: str) -> float:
    match = re.search(rf"^{pattern} ([0-9.e+-]+)$", text, re.M)
    assert match, pattern
    return float(match.group(1))


def test_metrics_count_what_happened(client, records) -> None:
    for record in records[:5]:
        assert client.post("/v1/score", json=record, headers=headers(RISK)).status_code == 200
    client.post("/v1/score", json=records[0])  # 401
    client.post(
        "/v1/score/batch", json={"declarations": [records[5], {"bad": 1}]}, headers=headers(RISK)
    )
    text = client.get("/metrics", headers=headers(RISK)).text
    requests = 'targeting_http_requests_total{method="POST",route="/v1/score",status="200"}'
    assert _value(text, re.escape(requests)) >= 5
    unauthorised = 'targeting_http_requests_total{method="POST",route="/v1/score",status="401"}'
    assert _value(text, re.escape(unauthorised)) >= 1
    latency = 'targeting_http_request_duration_seconds_count{method="POST",route="/v1/score"}'
    assert _value(text, re.escape(latency)) >= 6
    assert _value(text, "targeting_score_count") >= 6
    decided = sum(
        _value(text, re.escape(f'targeting_decisions_total{{basis="{b}"}}'))
        for b in ("model", "random", "none")
        if f'basis="{b}"' in text
    )
    assert decided >= 6
    assert _value(text, "targeting_invalid_declarations_total") >= 1
    assert 0 <= _value(text, "targeting_selection_rate") <= 1
    assert 0 < _value(text, "targeting_selection_threshold") < 1
    assert _value(text, re.escape('targeting_execution_provider{provider="CPUExecutionProvider"}'))
    assert "targeting_model_info{" in text
    assert "targeting_microbatch_rows_bucket" in text
    # every scored micro-batch was committed, and each commit timed
    commits = _value(text, "targeting_decision_log_commit_seconds_count")
    assert 1 <= commits <= _value(text, "targeting_microbatch_rows_count")
    assert commits >= 2  # the single requests' batches and the batch request's
    assert _value(text, "targeting_decision_log_commit_seconds_sum") > 0
    assert "/v1/consignments/" not in text.replace("/v1/consignments/{declaration_id}", "")


def test_health_and_readiness(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] is True
    assert ready["provider"] == "CPUExecutionProvider"
    assert ready["model"]["name"] == "targeting"
