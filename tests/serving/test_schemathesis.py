"""Property-based API test from the OpenAPI spec (schemathesis): no server errors,
schema-violating requests refused, responses as documented (status codes, content
types, schemas). Bounded: a few examples per operation.

Not checked: that every schema-valid request is accepted. Some rules span fields and
have no JSON Schema form (an embedded ENS must be the filing named by ens_id, its
versions unique; timestamps within 1990-2100), so generated data can break them.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import positive_data_acceptance

from serving.app import create_app
from serving.auth import API_KEY_HEADER
from tests.serving.conftest import ADMIN, make_settings

EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def api_schema(trained, tmp_path_factory):
    app = create_app(make_settings(trained, tmp_path_factory.mktemp("schemathesis")))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # The coverage phase enumerates every boundary of every field (thousands of scoring
    # calls, minutes): examples and bounded fuzzing keep this test under a minute.
    schema.config.phases.update(phases=["examples", "fuzzing"])
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_and_never_errors(case) -> None:
    if case.headers and API_KEY_HEADER in case.headers:  # generated key: use a real one
        case.headers[API_KEY_HEADER] = ADMIN  # (a case without the header must get 401)
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
