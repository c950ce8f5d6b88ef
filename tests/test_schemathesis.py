"""Property-based tests of every operation, generated from our own OpenAPI document.

Schemathesis sends valid and invalid requests to each operation as an operator
would (the role that may write the directories and plans) and checks that no
answer is a server error and that every answer matches what the document says:
status code, content type, body schema, and that invalid input is refused.
"""

from __future__ import annotations

import traceback

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi import checks

from tests.factories import ApiClient

CHECKS = [
    schemathesis.checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
EXAMPLES_PER_OPERATION = 30


def test_every_operation_conforms(client: ApiClient) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operator = {"X-API-Key": client.keys["operator"]}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=operator, checks=CHECKS)

        try:
            exercise()
        except Exception as exc:
            raise AssertionError(f"{operation.label}: {_explained(exc)}") from exc


def _explained(exc: BaseException) -> str:
    """The failure and, for a flaky one, what each attempt raised (Hypothesis groups them)."""
    inner = getattr(exc, "exceptions", ())
    parts = [str(exc)] + ["".join(traceback.format_exception(e)) for e in inner]
    return "\n".join(parts)
