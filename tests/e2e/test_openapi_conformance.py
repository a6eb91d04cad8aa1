"""docs/openapi.json is true to what the local stack answers: schemathesis generates requests from it.

Every operation in the document gets schema-valid and schema-violating requests (bounded, derandomised so a
run is repeatable); each answer must be as documented: never a 500, a documented status code, content type,
headers and body schema, schema-violating data refused with a 4xx, schema-valid data refused only with a
documented semantic refusal.

One test walks every operation itself (rather than schemathesis' per-operation pytest parametrisation, which
pytest-xdist reduces to one item that cannot fail) and reports every operation that failed, with its example.
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from sync_core.domain.entities import EntityName
from tests.e2e.conftest import RunningLocalStack
from tools.template_info import REPO

# Bounded so the whole document runs in about a minute on two cores; raise it to look harder.
EXAMPLES_PER_OPERATION = int(os.environ.get("HUB_FUZZ_EXAMPLES", "12"))
# As an administrator, so settings writes are exercised past the role check (test_roles.py covers the 403s).
CALLER = {"X-Hub-User": "schemathesis", "X-Hub-Roles": "administrator"}

# A schema-valid request may still be refused for what it means, not its shape: a reference to a record
# that does not exist or a workflow rule (422), a stale If-Match (412), a missing record (404), a
# duplicate (409). Those are the hub's documented refusals; any other 4xx for valid data is a finding.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]
            },
            # A request line too long to read is refused before validation, with the documented 414.
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "406",
                    "409",
                    "414",
                    "415",
                    "422",
                    "428",
                    "429",
                    "5xx",
                ]
            },
        }
    }
)
SCHEMA = schemathesis.openapi.from_path(REPO / "docs" / "openapi.json", config=CONFIG)


def _check(operation: schemathesis.APIOperation, mode: schemathesis.GenerationMode, api_url: str) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=api_url, headers=CALLER)

    answers_as_documented()


def _sync_configurations(api_url: str) -> dict[str, dict[str, Any]]:
    return {
        entity.value: requests.get(f"{api_url}/sync/entities/{entity.value}/config", headers=CALLER, timeout=30).json()
        for entity in EntityName
    }


def _restore_sync_configurations(api_url: str, saved: dict[str, dict[str, Any]]) -> None:
    """The fuzzing stops entities and saves generated configurations: the stack, shared by the session's other
    tests, gets back the configurations and process statuses it had."""
    for entity, config in saved.items():
        url = f"{api_url}/sync/entities/{entity}/config"
        etag = requests.get(url, headers=CALLER, timeout=30).headers["ETag"]
        body = {key: value for key, value in config.items() if key not in ("status", "watermark")}
        answer = requests.put(url, json=body, headers={**CALLER, "If-Match": etag}, timeout=30)
        assert answer.status_code == 200, answer.text
        action = "process" if config["status"] == "Active" else "stop"
        answer = requests.post(
            f"{api_url}/sync/entities/{action}", json={"entities": [entity]}, headers=CALLER, timeout=60
        )
        assert answer.status_code == 200, answer.text


def test_every_operation_answers_as_documented(local_stack: RunningLocalStack) -> None:
    operations = [result.ok() for result in SCHEMA.get_all_operations()]
    assert len(operations) > 50, "docs/openapi.json lost its operations"
    failures: list[str] = []
    saved = _sync_configurations(local_stack.api_url)
    try:
        for operation in operations:
            for mode in schemathesis.GenerationMode:
                try:
                    _check(operation, mode, local_stack.api_url)
                except Unsatisfiable:
                    # Nothing of the operation can violate its schema (no parameters, no body): no negative case.
                    assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
                except Exception as exc:  # every failing operation is reported, not only the first
                    failures.append(f"{operation.label} ({mode.value}):\n{exc}")
    finally:
        _restore_sync_configurations(local_stack.api_url, saved)
    print(f"schemathesis: {len(operations)} operations x {len(schemathesis.GenerationMode)} modes")
    assert not failures, f"{len(failures)} operations answer other than documented:\n\n" + "\n\n".join(failures)
