"""docs/openapi.json is true to what the local stack answers: schemathesis generates requests from it.

Every operation in the document gets valid and invalid requests (bounded, derandomised so a run is
repeatable); each answer must be in the documented shape: never a 500, a documented status code, content
type, headers and body schema, and invalid data refused with a 4xx.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, settings

from tests.e2e.conftest import RunningLocalStack
from tools.template_info import REPO

# Bounded so the whole document runs in well under a minute on two cores; raise it to look harder.
EXAMPLES_PER_OPERATION = int(os.environ.get("HUB_FUZZ_EXAMPLES", "12"))

# A schema-valid request may still be refused for what it means, not its shape: a reference to a record
# that does not exist or a workflow rule (422), a stale If-Match (412), a missing record (404), a
# duplicate (409). Those are the hub's documented refusals; any other 4xx for valid data is a finding.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]
            }
        }
    }
)
schema = schemathesis.openapi.from_path(REPO / "docs" / "openapi.json", config=CONFIG)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, local_stack: RunningLocalStack) -> None:
    # As an administrator, so settings writes are exercised past the role check (test_roles.py covers 403s).
    caller = {"X-Hub-User": "schemathesis", "X-Hub-Roles": "administrator"}
    case.call_and_validate(base_url=local_stack.api_url, headers=caller)


def test_the_document_has_operations() -> None:
    assert len(list(schema.get_all_operations())) > 50, "docs/openapi.json lost its operations"
