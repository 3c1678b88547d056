"""schemathesis over /api/v1/openapi.json: zero 5xx and zero schema violations.

Every documented operation is exercised with generated parameters (schemathesis strategies,
driven by hypothesis), once anonymously and once with a provincial token, so both the public
and the detail views must meet the schema. Operations are taken from the served document, so
endpoints other engineers add through ``OPENAPI_PATHS`` are tested too.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

EXAMPLES_PER_OPERATION = 20
#: "schema-valid request rejected" flags legitimate semantic 422s (e.g. a baseline round the
#: dataset does not hold), which no JSON schema can express; every other default check runs
#: (server errors, status codes, content types, response schemas and headers).
SEMANTIC = [positive_data_acceptance]
#: the WSGI transport does not undo Content-Encoding as an HTTP client would (gzip is tested
#: in tests/test_api.py)
PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import api_dataset

    app, tokens, _ = api_dataset.build_app(tmp_path_factory.mktemp("openapi"))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return schema, {"Authorization": f"Bearer {tokens['cm']}"}


def test_api_conforms_to_its_openapi_document(served):
    schema, provincial = served
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(headers=PLAIN, excluded_checks=SEMANTIC)
            case.call_and_validate(headers={**PLAIN, **provincial}, excluded_checks=SEMANTIC)

        run()
