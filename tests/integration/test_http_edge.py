"""The HTTP edge (sync_core.http) through both API functions' lambda_handler over in-process moto: every class
of hostile input answers a clear 4xx in the hub's error shape, never a 500, on every route it concerns.

The routes are read from the functions' resolvers and the template's API routes, not listed by hand, so a new
write route is covered the day it is added.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from tests.support.api import ApiAnswer, call, http_event
from tests.support.aws_stack import hub_aws_environment
from tests.support.faults import dynamodb_fails, dynamodb_times_out
from tests.support.logs import captured_logs
from tools.template_info import api_routes

WRITE_METHODS = ("POST", "PUT", "PATCH")
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SAMPLE_ID = "T-000001"


def _function_apps() -> dict[str, ModuleType]:
    from functions.cases_api import app as cases_app
    from functions.records_api import app as records_app

    return {"records_api": records_app, "cases_api": cases_app}


@dataclass(frozen=True)
class Route:
    function: str
    method: str
    path: str  # concrete: each <param> replaced by a sample id
    takes_body: bool

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _routes() -> list[Route]:
    found = []
    for name, module in _function_apps().items():
        app = module.app
        for route in app._static_routes + app._dynamic_routes:
            path = re.sub(r"<\w+>", SAMPLE_ID, route.path)
            found.append(Route(name, route.method, path, bool(route.dependant.body_params)))
    return sorted(found, key=str)


ROUTES = _routes()
WRITE_ROUTES = [route for route in ROUTES if route.method in WRITE_METHODS and route.takes_body]


def _route_key(path: str) -> str:
    """The template's API route that API Gateway would match for a path (most specific first)."""
    for route in sorted(api_routes(), key=lambda r: -len(r.path)):
        pattern = re.sub(r"\{proxy\+\}", ".+", re.sub(r"\{\w+\}", "[^/]+", route.path))
        if route.path != "$default" and re.fullmatch(pattern, path):
            return f"{route.method} {route.path}"
    raise AssertionError(f"no template route for {path}")


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """One moto for the module (each refusal writes nothing); tests that write compare before and after."""
    with hub_aws_environment("sync-hub-edge"):
        yield


@pytest.fixture
def apps(aws: None) -> Iterator[dict[str, ModuleType]]:
    apps = _function_apps()
    _forget_services(apps)
    yield apps
    _forget_services(apps)


def _forget_services(apps: dict[str, ModuleType]) -> None:
    """Each function builds its services once per container; every test starts from fresh ones."""
    apps["records_api"]._service.cache_clear()
    apps["cases_api"]._services.cache_clear()


def send(
    apps: dict[str, ModuleType], route: Route | tuple[str, str, str], *, method: str | None = None, **kwargs: Any
) -> ApiAnswer:
    function, route_method, path = (route.function, route.method, route.path) if isinstance(route, Route) else route
    kwargs.setdefault("user", "alice")
    kwargs.setdefault("roles", ("administrator",))  # the refusals here are about input, not roles (test_roles.py)
    event = http_event(method or route_method, path, route_key=_route_key(path), **kwargs)
    return call(apps[function].lambda_handler, event)


def assert_error_shape(answer: ApiAnswer, status: int) -> None:
    assert answer.status == status, answer.body
    assert isinstance(answer.body, dict), answer.body
    assert answer.body["status"] == status
    assert isinstance(answer.body["message"], str) and answer.body["message"]


def test_the_routes_are_read_from_both_functions() -> None:
    functions = {route.function for route in WRITE_ROUTES}
    assert functions == {"records_api", "cases_api"}
    assert {"POST /records/Account", "PATCH /records/Account/T-000001", "POST /cases"} <= set(map(str, WRITE_ROUTES))


# ---------------------------------------------------------------- bodies that are not objects


@pytest.mark.parametrize(
    "raw_body",
    ['[{"name": "Acme"}, {"name": "Lost"}]', "[]", '"Acme"', "42", "true", "null"],
    ids=["array", "empty-array", "string", "number", "boolean", "null"],
)
def test_a_body_that_is_not_an_object_is_422_on_every_write_route(apps: Any, raw_body: str) -> None:
    for route in WRITE_ROUTES:
        answer = send(apps, route, raw_body=raw_body)
        assert_error_shape(answer, 422)
        assert answer.body["errors"] == [{"field": "body", "reason": answer.body["message"]}], route
        assert "must be a JSON object" in answer.body["message"], route


def test_an_array_body_creates_nothing(apps: Any) -> None:
    before = send(apps, ("records_api", "GET", "/records/Account"), query={"limit": "100"}).body["items"]
    answer = send(apps, ("records_api", "POST", "/records/Account"), raw_body='[{"name": "Acme"}]')
    assert answer.status == 422
    after = send(apps, ("records_api", "GET", "/records/Account"), query={"limit": "100"}).body["items"]
    assert after == before


# ---------------------------------------------------------------- values of another JSON type than documented

WRONG_JSON_TYPES = {
    "boolean as integer": ("/records/Account", {"name": "Acme", "number_of_employees": False}, "number_of_employees"),
    "integer as boolean": ("/records/Contact", {"last_name": "Jansen", "is_employee": 0}, "is_employee"),
    "number as date": ("/records/Opportunity", {"name": "D", "stage": "Prospecting", "close_date": 0}, "close_date"),
    "string as integer": ("/records/Account", {"name": "Acme", "number_of_employees": "12"}, "number_of_employees"),
    "float as integer": ("/records/Account", {"name": "Acme", "number_of_employees": 12.5}, "number_of_employees"),
    "number as string": ("/records/Account", {"name": 7}, "name"),
}


@pytest.mark.parametrize(("path", "body", "field"), WRONG_JSON_TYPES.values(), ids=WRONG_JSON_TYPES.keys())
def test_a_value_of_another_json_type_than_documented_is_422_not_coerced(
    apps: Any, path: str, body: dict[str, Any], field: str
) -> None:
    """Powertools validates in pydantic's lax mode (false taken as 0, 0 as a date): the edge must not."""
    answer = send(apps, ("records_api", "POST", path), raw_body=json.dumps(body))
    assert_error_shape(answer, 422)
    assert any(error["field"] == f"body.{field}" for error in answer.body["errors"]), answer.body


def test_a_patch_with_a_value_of_another_json_type_is_422_not_coerced(apps: Any) -> None:
    created = send(apps, ("records_api", "POST", "/records/Contact"), raw_body='{"last_name": "Jansen"}')
    assert created.status == 201, created.body
    path = f"/records/Contact/{created.body['id']}"
    answer = send(apps, ("records_api", "PATCH", path), raw_body='{"is_employee": 1}')
    assert_error_shape(answer, 422)
    assert any(error["field"] == "is_employee" for error in answer.body["errors"]), answer.body
    unchanged = send(apps, ("records_api", "GET", path))
    assert unchanged.body["version"] == 1
    assert "is_employee" not in unchanged.body["fields"] or unchanged.body["fields"]["is_employee"] is False


def test_documented_json_forms_are_accepted(apps: Any) -> None:
    body = {"name": "Deal", "stage": "Prospecting", "close_date": "2026-12-31", "amount": 1250.5, "probability": 40}
    answer = send(apps, ("records_api", "POST", "/records/Opportunity"), raw_body=json.dumps(body))
    assert answer.status == 201, answer.body
    assert answer.body["fields"]["close_date"] == "2026-12-31"


# ---------------------------------------------------------------- numbers and nesting DynamoDB cannot store

HOSTILE_NUMBERS = {
    "NaN": ("NaN", "finite"),
    "Infinity": ("Infinity", "finite"),
    "-Infinity": ("-Infinity", "finite"),
    "1e999": ("1e999", "finite"),
    "1e-300": ("1e-300", "range"),
    "1e200": ("1e200", "range"),
    "40-digit integer": ("1" * 40, "38 significant digits"),
    "5000-digit integer": ("9" * 5000, "38 significant digits"),
    "39-digit negative": ("-" + "9" * 39, "38 significant digits"),
}


@pytest.mark.parametrize(("literal", "reason"), HOSTILE_NUMBERS.values(), ids=HOSTILE_NUMBERS.keys())
def test_a_number_dynamodb_cannot_store_is_422_naming_the_field_on_every_write_route(
    apps: Any, literal: str, reason: str
) -> None:
    for route in WRITE_ROUTES:
        answer = send(apps, route, raw_body=f'{{"custom_fields": {{"Score": {literal}}}}}')
        assert_error_shape(answer, 422)
        assert answer.body["errors"][0]["field"] == "body.custom_fields.Score", route
        assert reason in answer.body["errors"][0]["reason"], route


def test_numbers_dynamodb_stores_are_kept_exactly(apps: Any) -> None:
    custom = {"Big": int("9" * 38), "Small": 1e-130, "Fraction": 1.25e-5, "Zero": 0, "Negative": -12.5}
    created = send(apps, ("records_api", "POST", "/records/Account"), body={"name": "Acme", "custom_fields": custom})
    assert created.status == 201, created.body
    read = send(apps, ("records_api", "GET", f"/records/Account/{created.body['id']}"))
    assert read.body["fields"]["custom_fields"] == custom


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_deeper_than_dynamodb_stores_is_422_on_every_write_route(apps: Any) -> None:
    for route in WRITE_ROUTES:
        answer = send(apps, route, body={"custom_fields": {"Tree": _nested(40)}})
        assert_error_shape(answer, 422)
        assert answer.body["errors"][0]["field"].startswith("body.custom_fields.Tree["), route
        assert "nests deeper than 30 levels" in answer.body["errors"][0]["reason"]


def test_json_too_deep_to_parse_is_400_on_every_write_route(apps: Any) -> None:
    too_deep = "[" * 100_000 + "]" * 100_000
    for route in WRITE_ROUTES:
        answer = send(apps, route, raw_body=f'{{"custom_fields": {too_deep}}}')
        assert_error_shape(answer, 400)
        assert "nested too deeply" in answer.body["message"]


@pytest.mark.parametrize("raw_body", ['{"name": "Acme"', "{'name': 'Acme'}", "\ufeff{}"], ids=["cut", "quotes", "bom"])
def test_a_body_that_is_not_json_is_400_on_every_write_route(apps: Any, raw_body: str) -> None:
    for route in WRITE_ROUTES:
        answer = send(apps, route, raw_body=raw_body)
        assert_error_shape(answer, 400)
        assert answer.body["message"] == "request body is not valid JSON"


def test_a_base64_body_that_is_not_utf8_is_400(apps: Any) -> None:
    event = http_event("POST", "/records/Account", route_key=_route_key("/records/Account"), raw_body="/w==")
    event["isBase64Encoded"] = True
    answer = call(apps["records_api"].lambda_handler, event)
    assert_error_shape(answer, 400)
    assert "UTF-8" in answer.body["message"]


# ---------------------------------------------------------------- keys and items DynamoDB cannot hold


def test_an_id_longer_than_a_dynamodb_key_is_422_on_every_route_that_takes_one(apps: Any) -> None:
    long_id = "X" * 1025
    for route in ROUTES:
        if SAMPLE_ID not in route.path:
            continue
        answer = send(apps, (route.function, route.method, route.path.replace(SAMPLE_ID, long_id, 1)), body={})
        assert_error_shape(answer, 422)
        assert "longer than 1024 bytes" in answer.body["message"], route


def test_a_tampered_cursor_with_an_oversized_key_is_422(apps: Any) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(json.dumps({"pk": "Account", "sk": "A" * 2000}).encode()).decode()
    answer = send(apps, ("records_api", "GET", "/records/Account"), query={"cursor": cursor})
    assert_error_shape(answer, 422)
    assert answer.body["field"] == "cursor"


CUSTOM_FIELD_BOUNDS = {
    "101 fields": ({f"F{index}": index for index in range(101)}, "at most 100 custom fields"),
    "65 KB together": ({f"F{index}": "x" * 30_000 for index in range(3)}, "at most 65536"),
    "a 32,001-character text": ({"Notes": "x" * 32_001}, "longer than 32000 characters"),
}


@pytest.mark.parametrize(("custom", "reason"), CUSTOM_FIELD_BOUNDS.values(), ids=CUSTOM_FIELD_BOUNDS.keys())
def test_custom_fields_are_bounded_on_records(apps: Any, custom: dict[str, Any], reason: str) -> None:
    answer = send(apps, ("records_api", "POST", "/records/Account"), body={"name": "Acme", "custom_fields": custom})
    assert_error_shape(answer, 422)
    assert reason in json.dumps(answer.body["errors"])
    created = send(apps, ("records_api", "POST", "/records/Account"), body={"name": "Acme"})
    patched = send(
        apps, ("records_api", "PATCH", f"/records/Account/{created.body['id']}"), body={"custom_fields": custom}
    )
    assert_error_shape(patched, 422)


def test_many_patches_cannot_grow_a_record_past_the_bound(apps: Any) -> None:
    created = send(apps, ("records_api", "POST", "/records/Account"), body={"name": "Acme"})
    path = f"/records/Account/{created.body['id']}"
    for batch in range(2):
        fields = {f"F{batch}_{index}": index for index in range(50)}
        assert send(apps, ("records_api", "PATCH", path), body={"custom_fields": fields}).status == 200
    answer = send(apps, ("records_api", "PATCH", path), body={"custom_fields": {"OneMore": 1}})
    assert_error_shape(answer, 422)


@pytest.fixture
def case_settings(apps: Any) -> dict[str, str]:
    support = {"class_id": "SUPPORT", "billable": False, "resolution_hours": 48}
    assert send(apps, ("cases_api", "PUT", "/cases/settings/classes/SUPPORT"), body=support).status == 200
    account = send(apps, ("records_api", "POST", "/records/Account"), body={"name": "Acme"}).body["id"]
    return {"class_id": "SUPPORT", "account_id": account}


def test_custom_fields_are_bounded_on_cases(apps: Any, case_settings: dict[str, str]) -> None:
    draft = {"subject": "Printer on fire", **case_settings}
    too_many = {f"F{index}": index for index in range(101)}
    answer = send(apps, ("cases_api", "POST", "/cases"), body={**draft, "custom_fields": too_many})
    assert_error_shape(answer, 422)
    created = send(apps, ("cases_api", "POST", "/cases"), body=draft)
    assert created.status == 201, created.body
    patched = send(apps, ("cases_api", "PATCH", f"/cases/{created.body['id']}"), body={"custom_fields": too_many})
    assert_error_shape(patched, 422)


# ---------------------------------------------------------------- If-Match


@pytest.mark.parametrize(
    "if_match", ["abc", '"1.5"', "9" * 13, '"' + "9" * 5000 + '"', '"-1"'], ids=["text", "decimal", "13", "5000", "neg"]
)
def test_an_if_match_that_is_not_a_short_version_is_422_naming_it(apps: Any, if_match: str) -> None:
    created = send(apps, ("records_api", "POST", "/records/Account"), body={"name": "Acme"})
    for method in ("PUT", "PATCH", "DELETE"):
        answer = send(
            apps,
            ("records_api", method, f"/records/Account/{created.body['id']}"),
            body={"name": "Acme"},
            headers={"If-Match": if_match},
        )
        assert_error_shape(answer, 422)
        assert answer.body["errors"][0]["field"] == "If-Match"


# ---------------------------------------------------------------- media type, method, path


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/xml"]
)
def test_a_body_of_another_media_type_is_415_on_every_write_route(apps: Any, content_type: str) -> None:
    for route in WRITE_ROUTES:
        answer = send(apps, route, raw_body="name=Acme", headers={"Content-Type": content_type})
        assert_error_shape(answer, 415)
        assert answer.body["field"] == "Content-Type"


def test_json_with_a_charset_or_a_json_suffix_is_accepted(apps: Any) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        answer = send(
            apps,
            ("records_api", "POST", "/records/Account"),
            body={"name": "Acme"},
            headers={"Content-Type": content_type},
        )
        assert answer.status == 201, answer.body


def test_a_known_path_with_another_method_is_405_with_allow(apps: Any) -> None:
    allowed: dict[tuple[str, str], set[str]] = {}
    for route in ROUTES:
        allowed.setdefault((route.function, route.path), set()).add(route.method)
    checked = 0
    for (function, path), methods in allowed.items():
        for method in sorted(set(ALL_METHODS) - methods):
            answer = send(apps, (function, method, path), body={})
            if answer.status == 404 and method == "GET":
                continue  # a dynamic route shadows: e.g. GET /cases/settings is a case id
            assert_error_shape(answer, 405)
            assert answer.headers["Allow"] == ", ".join(sorted(answer.body["allowed_methods"]))
            assert methods <= set(answer.body["allowed_methods"]), (method, path)
            checked += 1
    assert checked > 20


def test_writes_to_case_records_through_the_records_api_are_405_pointing_at_cases(apps: Any) -> None:
    answer = send(apps, ("records_api", "POST", "/records/Case"), body={"subject": "x"})
    assert_error_shape(answer, 405)
    assert answer.headers["Allow"] == "GET"
    assert "/cases" in answer.body["message"]


@pytest.mark.parametrize("path", ["/records/Account/T-1/nothing/here", "/cases/T-1/nothing"])
def test_an_unknown_path_is_404_in_the_hub_shape(apps: Any, path: str) -> None:
    function = "records_api" if path.startswith("/records") else "cases_api"
    answer = send(apps, (function, "GET", path))
    assert_error_shape(answer, 404)


# ---------------------------------------------------------------- unexpected failures and refusal logs


def test_an_unexpected_failure_is_500_with_a_correlation_id_and_a_logged_stack_trace(
    apps: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_core.services.records import RecordsService

    def broken(*_: Any, **__: Any) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(RecordsService, "get_record", broken)
    with captured_logs() as lines:
        answer = send(apps, ("records_api", "GET", "/records/Account/ACC-000001"))
    assert_error_shape(answer, 500)
    request_id = "CKt8sgGqIAMEVdw="  # the sample event's API Gateway request id
    assert answer.body["correlation_id"] == request_id
    assert answer.headers["X-Correlation-Id"] == request_id
    assert "a bug" not in answer.body["message"]
    failures = [line for line in lines if line["message"] == "unexpected failure"]
    assert len(failures) == 1
    assert failures[0]["correlation_id"] == request_id
    assert "KeyError: 'a bug'" in failures[0]["exception"]


def test_every_refusal_leaves_one_log_line_without_the_body(apps: Any) -> None:
    secret = "do-not-log-this-body"
    with captured_logs() as lines:
        answer = send(
            apps, ("records_api", "POST", "/records/Account"), body={"name": secret, "bogus": 1}, user="mallory"
        )
        assert answer.status == 422
        refusals = [line for line in lines if line["message"] == "request refused"]
        assert len(refusals) == 1
        assert refusals[0]["status"] == 422
        assert refusals[0]["route"] == "POST /records/Account"
        assert refusals[0]["caller"] == "mallory"
        assert secret not in json.dumps(lines)
        for status, route in (
            (404, ("records_api", "GET", "/records/Account/ACC-999999")),
            (405, ("cases_api", "DELETE", "/cases")),
        ):
            lines.clear()
            assert send(apps, route).status == status
            refusals = [line for line in lines if line["message"] == "request refused"]
            assert [line["status"] for line in refusals] == [status]


# ---------------------------------------------------------------- DynamoDB failures: 503, nothing used up

RETRYABLE = {
    "ProvisionedThroughputExceededException": {},
    "ThrottlingException": {},
    "RequestLimitExceeded": {},
    "InternalServerError": {},
    "TransactionCanceled-ThrottlingError": {"cancellation_reasons": ["None", "ThrottlingError"]},
}


@pytest.mark.parametrize("fault", RETRYABLE.keys())
def test_a_throttled_create_is_503_and_uses_up_neither_a_number_nor_the_idempotency_key(apps: Any, fault: str) -> None:
    code = "TransactionCanceledException" if fault.startswith("TransactionCanceled") else fault
    route = ("records_api", "POST", "/records/Account")
    headers = {"Idempotency-Key": f"create-{fault}"}
    with dynamodb_fails("TransactWriteItems", code, times=1, **RETRYABLE[fault]) as answered:
        refused = send(apps, route, body={"name": "Acme"}, headers=headers)
    assert answered == [code]
    assert_error_shape(refused, 503)
    assert int(refused.headers["Retry-After"]) >= 1
    retried = send(apps, route, body={"name": "Acme"}, headers=headers)
    assert retried.status == 201, retried.body
    listing = send(apps, ("records_api", "GET", "/records/Account"), query={"limit": "100"}).body["items"]
    numbers = sorted(int(item["id"].split("-")[1]) for item in listing)
    assert numbers == list(range(1, len(numbers) + 1))  # no number skipped by the failed attempt
    assert retried.body["id"] == listing[-1]["id"]


def test_a_transaction_conflict_is_retried_in_place(apps: Any) -> None:
    with dynamodb_fails(
        "TransactWriteItems", "TransactionCanceledException", times=1, cancellation_reasons=["TransactionConflict"]
    ) as answered:
        created = send(apps, ("records_api", "POST", "/records/Account"), body={"name": "Acme"})
    assert answered == ["TransactionCanceledException"]
    assert created.status == 201, created.body


def test_a_transaction_that_keeps_conflicting_is_503(apps: Any, case_settings: dict[str, str]) -> None:
    draft = {"subject": "Printer on fire", **case_settings}
    cases_before = len(send(apps, ("cases_api", "GET", "/cases"), query={"limit": "100"}).body["items"])
    with dynamodb_fails(
        "TransactWriteItems", "TransactionCanceledException", times=10, cancellation_reasons=["TransactionConflict"]
    ):
        refused = send(apps, ("cases_api", "POST", "/cases"), body=draft, headers={"Idempotency-Key": "k1"})
    assert_error_shape(refused, 503)
    assert refused.body["code"] == "TransactionConflict"
    created = send(apps, ("cases_api", "POST", "/cases"), body=draft, headers={"Idempotency-Key": "k1"})
    assert created.status == 201, created.body
    assert created.body["id"] == f"CS{cases_before + 1:06d}"  # the failed attempts used no Case ID


def test_a_timeout_is_503(apps: Any) -> None:
    with dynamodb_times_out("GetItem") as attempts:
        answer = send(apps, ("records_api", "GET", "/records/Account/ACC-000001"))
    assert_error_shape(answer, 503)
    assert answer.body["code"] == "ReadTimeoutError"
    assert len(attempts) > 1  # botocore retried before the hub gave up


def test_a_throttled_idempotency_store_is_503(apps: Any) -> None:
    before = send(apps, ("records_api", "GET", "/records/Account"), query={"limit": "100"}).body["items"]
    with dynamodb_fails("PutItem", "ThrottlingException", times=1):
        answer = send(
            apps, ("records_api", "POST", "/records/Account"), body={"name": "Acme"}, headers={"Idempotency-Key": "k"}
        )
    assert_error_shape(answer, 503)
    assert send(apps, ("records_api", "GET", "/records/Account"), query={"limit": "100"}).body["items"] == before
