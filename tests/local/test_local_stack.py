"""The local stack on a small template of its own: gateway routing and event shapes, and event sources
that behave like Lambda's (SQS partial failures and redrive, stream retries, schedules, EventBridge rules)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests

from local.stack import LocalStack, LocalStackConfig, free_port
from tests.local import handlers
from tests.support.waiting import wait_until

API_ROUTES = {
    "ItemRoute": "GET /items/{id}",
    "ItemProxyRoute": "ANY /items/{proxy+}",
    "SpecialRoute": "POST /items/special",
    "CatchAllRoute": "$default",
}

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "test"}},
    "Globals": {
        "Function": {
            "Timeout": 5,
            "MemorySize": 256,
            "Environment": {"Variables": {"WORK_QUEUE_URL": {"Ref": "WorkQueue"}, "STAGE": {"Ref": "Stage"}}},
        }
    },
    "Resources": {
        "WorkQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": "work-test",
                "VisibilityTimeout": 1,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["WorkDlq", "Arn"]}, "maxReceiveCount": 2},
            },
        },
        "WorkDlq": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "work-test-dlq"}},
        "ItemsTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            },
        },
        "Worker": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "tests/local/",
                "Handler": "handlers.on_sqs",
                "Events": {
                    "Work": {
                        "Type": "SQS",
                        "Properties": {
                            "Queue": {"Fn::GetAtt": ["WorkQueue", "Arn"]},
                            "BatchSize": 5,
                            "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        },
                    }
                },
            },
        },
        "Exporter": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "tests/local/",
                "Handler": "handlers.on_stream",
                "Events": {
                    "Changes": {
                        "Type": "DynamoDB",
                        "Properties": {
                            "Stream": {"Fn::GetAtt": ["ItemsTable", "StreamArn"]},
                            "StartingPosition": "TRIM_HORIZON",
                            "BatchSize": 10,
                            "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        },
                    }
                },
            },
        },
        "Nightly": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "tests/local/",
                "Handler": "handlers.on_schedule",
                "Events": {
                    "Nightly": {"Type": "Schedule", "Properties": {"Schedule": "cron(0 2 * * ? *)"}},
                    "Often": {
                        "Type": "ScheduleV2",
                        "Properties": {"ScheduleExpression": "rate(1 minute)", "Input": '{"entity": "Account"}'},
                    },
                },
            },
        },
        "Listener": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "tests/local/",
                "Handler": "handlers.on_rule",
                "Events": {
                    "SalesforceChanges": {
                        "Type": "EventBridgeRule",
                        "Properties": {
                            "EventBusName": {"Fn::Sub": "aws.partner/salesforce.com/${Stage}"},
                            "Pattern": {"detail-type": ["AccountChangeEvent"]},
                        },
                    }
                },
            },
        },
        "ApiFunction": {
            "Type": "AWS::Serverless::Function",
            "Properties": {"CodeUri": "tests/local/", "Handler": "handlers.on_api"},
        },
        "WhoAmIFunction": {
            "Type": "AWS::Serverless::Function",
            "Properties": {"CodeUri": "tests/local/", "Handler": "handlers.on_whoami"},
        },
        "WhoAmIIntegration": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {"ApiId": {"Ref": "HttpApi"}, "IntegrationUri": {"Fn::GetAtt": ["WhoAmIFunction", "Arn"]}},
        },
        "WhoAmIRoute": {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {"RouteKey": "GET /whoami", "Target": {"Fn::Sub": "integrations/${WhoAmIIntegration}"}},
        },
        "HttpApi": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": "test", "ProtocolType": "HTTP"}},
        "ApiIntegration": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {"ApiId": {"Ref": "HttpApi"}, "IntegrationUri": {"Fn::GetAtt": ["ApiFunction", "Arn"]}},
        },
        **{
            name: {
                "Type": "AWS::ApiGatewayV2::Route",
                "Properties": {"RouteKey": key, "Target": {"Fn::Sub": "integrations/${ApiIntegration}"}},
            }
            for name, key in API_ROUTES.items()
        },
    },
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    for calls in handlers.CALLS.values():
        calls.clear()
    config = LocalStackConfig(moto_port=free_port(), gateway_port=0, with_emulator=False, seed_demo_data=False)
    local = LocalStack(config, doc=TEMPLATE)
    local.bus.retry_delays = (0.05, 0.05)
    with local.running():
        yield local


def aws(stack: LocalStack, service: str) -> Any:
    return boto3.client(service, endpoint_url=stack.aws_endpoint, region_name="us-east-1")


# ---------------------------------------------------------------- gateway
def test_routes_get_payload_2_events_with_path_parameters_and_caller(stack: LocalStack) -> None:
    answer = requests.get(
        f"{stack.api_url}/items/42?a=1&a=2&b=x", headers={"X-Hub-User": "alice", "Cookie": "c=1"}, timeout=5
    )
    assert answer.status_code == 201
    assert answer.headers["x-route"] == "GET /items/{id}"
    assert answer.cookies["session"] == "abc"
    event = handlers.CALLS["api"][-1]
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "a=1&a=2&b=x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
    assert event["pathParameters"] == {"id": "42"}
    assert event["cookies"] == ["c=1"]
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "alice"
    assert answer.json()["user"]["jwt"]["claims"]["sub"] == "alice"


def test_route_precedence_literal_then_variable_then_greedy(stack: LocalStack) -> None:
    assert requests.post(f"{stack.api_url}/items/special", timeout=5).headers["x-route"] == "POST /items/special"
    assert requests.post(f"{stack.api_url}/items/42", timeout=5).headers["x-route"] == "ANY /items/{proxy+}"
    answer = requests.delete(f"{stack.api_url}/items/a/b/c", timeout=5)
    assert answer.headers["x-route"] == "ANY /items/{proxy+}"
    assert handlers.CALLS["api"][-1]["pathParameters"] == {"proxy": "a/b/c"}


def test_path_variables_hold_any_character_a_newline_included(stack: LocalStack) -> None:
    """API Gateway's {proxy+} and {name} take any decoded character; a newline must not fall to "Not Found"."""
    answer = requests.delete(f"{stack.api_url}/items/a%0Ab/c", timeout=5)
    assert answer.headers["x-route"] == "ANY /items/{proxy+}"
    assert handlers.CALLS["api"][-1]["pathParameters"] == {"proxy": "a\nb/c"}
    assert requests.get(f"{stack.api_url}/items/x%0Ay", timeout=5).headers["x-route"] == "GET /items/{id}"


def test_without_header_the_default_user_is_the_caller(stack: LocalStack) -> None:
    requests.get(f"{stack.api_url}/items/1", timeout=5)
    assert handlers.CALLS["api"][-1]["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "local-admin"


def test_binary_bodies_and_bare_answers(stack: LocalStack) -> None:
    png = requests.get(f"{stack.api_url}/items/x/binary", timeout=5)
    assert png.content == base64.b64decode("iVBORw0K")
    assert png.headers["content-type"] == "image/png"
    bare = requests.get(f"{stack.api_url}/items/x/bare", timeout=5)
    assert (bare.status_code, bare.json()) == (200, {"ok": True})
    requests.put(
        f"{stack.api_url}/items/blob",
        data=b"\x00\x01\xff",
        headers={"content-type": "application/octet-stream"},
        timeout=5,
    )
    event = handlers.CALLS["api"][-1]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01\xff"


def test_the_default_route_catches_what_no_other_route_matches(stack: LocalStack) -> None:
    answer = requests.get(f"{stack.api_url}/nothing/here", timeout=5)
    assert answer.headers["x-route"] == "$default"
    assert handlers.CALLS["api"][-1]["routeKey"] == "$default"
    assert "pathParameters" not in handlers.CALLS["api"][-1]
    assert requests.get(f"{stack.api_url}/items/7", timeout=5).headers["x-route"] == "GET /items/{id}"


def test_a_body_that_is_not_utf8_is_a_400_in_the_hubs_error_shape(stack: LocalStack) -> None:
    answer = requests.post(
        f"{stack.api_url}/items/special",
        data=b'{"name": "\xff\xfe"}',
        headers={"content-type": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"message": "request body is not valid UTF-8 (byte 10)", "status": 400}


def test_one_function_runs_one_event_at_a_time_so_requests_never_see_each_others_headers(
    stack: LocalStack,
) -> None:
    """Powertools keeps the current event per process: two events at once would answer with one's headers."""
    callers = [f"caller-{number}" for number in range(6)]
    with ThreadPoolExecutor(max_workers=len(callers)) as pool:
        answers = list(
            pool.map(
                lambda caller: requests.get(f"{stack.api_url}/whoami", headers={"X-Caller": caller}, timeout=30),
                callers,
            )
        )
    assert [answer.json()["caller"] for answer in answers] == callers
    assert handlers.MOST_AT_ONCE[0] == 1


def test_functions_get_the_template_environment(stack: LocalStack) -> None:
    assert stack.environment["STAGE"] == "test"
    assert stack.environment["WORK_QUEUE_URL"].endswith("/work-test")


# ---------------------------------------------------------------- SQS
def test_sqs_partial_failures_are_retried_then_redriven_to_the_dlq(stack: LocalStack) -> None:
    sqs = aws(stack, "sqs")
    queue_url = stack.environment["WORK_QUEUE_URL"]
    dlq_url = sqs.get_queue_url(QueueName="work-test-dlq")["QueueUrl"]
    sqs.send_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": "1", "MessageBody": json.dumps({"n": 1})},
            {"Id": "2", "MessageBody": json.dumps({"n": 2, "fail": True})},
            {"Id": "3", "MessageBody": json.dumps({"n": 3})},
        ],
    )

    def dead_letters() -> list[dict[str, Any]]:
        return sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])

    dead = wait_until(dead_letters, timeout=30, interval=0.1, message="the failing message in the DLQ")
    assert [json.loads(message["Body"]) for message in dead] == [{"n": 2, "fail": True}]
    bodies = [json.loads(record["body"]) for event in handlers.CALLS["sqs"] for record in event["Records"]]
    assert bodies.count({"n": 1}) == 1 and bodies.count({"n": 3}) == 1  # successes deleted, never redelivered
    assert bodies.count({"n": 2, "fail": True}) == 2  # maxReceiveCount deliveries, then the DLQ
    record = handlers.CALLS["sqs"][0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":work-test")
    assert "ApproximateReceiveCount" in record["attributes"]


# ---------------------------------------------------------------- DynamoDB streams
def test_stream_batches_retry_from_the_first_failed_record(stack: LocalStack) -> None:
    table = stack.context.physical["ItemsTable"] if stack.context else ""
    dynamodb = aws(stack, "dynamodb")
    # One request, so the poller reads all three in one batch (the moto server runs a write alone).
    dynamodb.batch_write_item(
        RequestItems={
            table: [
                {"PutRequest": {"Item": {"pk": {"S": key}, "poison": {"N": poison}}}}
                for key, poison in (("i1", "0"), ("i2", "1"), ("i3", "0"))
            ]
        }
    )

    def batches() -> list[list[str]]:
        return [
            [record["dynamodb"]["Keys"]["pk"]["S"] for record in event["Records"]]
            for event in handlers.CALLS["stream"]
            if "Records" in event
        ]

    wait_until(lambda: len(batches()) >= 2, timeout=20, interval=0.1, message="the stream batch and its retry")
    first, retry = batches()[:2]
    assert first == ["i1", "i2", "i3"]
    assert retry == ["i2", "i3"]
    record = handlers.CALLS["stream"][0]["Records"][0]
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["dynamodb"]["NewImage"]["pk"] == {"S": "i1"}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], float)


# ---------------------------------------------------------------- schedules and rules
def test_schedules_are_listed_and_can_be_fired_now(stack: LocalStack) -> None:
    listed = requests.get(f"{stack.api_url}/__local/schedules", timeout=5).json()
    assert listed["NightlyNightly"]["expression"] == "cron(0 2 * * ? *)"
    assert listed["NightlyNightly"]["next_run"].endswith("T02:00:00+00:00")
    fired = requests.post(f"{stack.api_url}/__local/schedules/NightlyNightly", timeout=5).json()
    assert fired["result"]["remaining_ms"] > 0
    event = handlers.CALLS["schedule"][-1]
    assert (event["source"], event["detail-type"]) == ("aws.events", "Scheduled Event")
    requests.post(f"{stack.api_url}/__local/schedules/NightlyOften", timeout=5)
    assert handlers.CALLS["schedule"][-1] == {"entity": "Account"}
    assert requests.post(f"{stack.api_url}/__local/schedules/Nope", timeout=5).status_code == 404


def test_eventbridge_rules_match_patterns_on_their_bus_and_retry_failures(stack: LocalStack) -> None:
    bus = "aws.partner/salesforce.com/test"
    entries = [
        {"Source": bus, "DetailType": "AccountChangeEvent", "Detail": json.dumps({"n": 1}), "EventBusName": bus},
        {"Source": bus, "DetailType": "ContactChangeEvent", "Detail": json.dumps({"n": 2}), "EventBusName": bus},
        {"Source": bus, "DetailType": "AccountChangeEvent", "Detail": json.dumps({"n": 3}), "EventBusName": "default"},
        {
            "Source": bus,
            "DetailType": "AccountChangeEvent",
            "Detail": json.dumps({"explode": True}),
            "EventBusName": bus,
        },
    ]
    answer = requests.post(f"{stack.api_url}/__local/events", json={"Entries": entries}, timeout=5).json()
    assert answer["MatchedRules"] == 2
    wait_until(
        lambda: len(handlers.FAILING_RULE_ATTEMPTS) == 3,
        timeout=20,
        interval=0.1,
        message="three attempts of the failing event",
    )
    details = [event["detail"] for event in handlers.CALLS["rule"]]
    assert {"n": 1} in details and {"n": 2} not in details and {"n": 3} not in details
    assert len(set(handlers.FAILING_RULE_ATTEMPTS)) == 1  # the same event, retried twice


def test_a_request_line_too_long_to_read_is_a_414_in_the_hubs_error_shape(stack: LocalStack) -> None:
    answer = requests.get(f"{stack.api_url}/items/1?cursor={'x' * 70_000}", timeout=5)
    assert answer.status_code == 414
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"message": "URI Too Long", "status": 414}
