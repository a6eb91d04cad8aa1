"""Invariants of template.yaml, and the OpenAPI document kept true to the routes the template declares."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from sync_core.domain.entities import EntityName
from tools.openapi import OPENAPI_PATH, generate, render
from tools.template_info import REPO, DynamoGrant, api_routes, dynamodb_grants, function_module, template

RESOURCES: dict[str, Any] = template()["Resources"]
FUNCTIONS = {name: spec for name, spec in RESOURCES.items() if spec["Type"] == "AWS::Serverless::Function"}
GLOBAL_FUNCTION = template()["Globals"]["Function"]


def test_runtime_is_the_python_the_tests_run_on() -> None:
    assert GLOBAL_FUNCTION["Runtime"] == f"python{sys.version_info.major}.{sys.version_info.minor}"
    for layer in ("SyncCoreLayer", "SalesforceLayer"):
        assert RESOURCES[layer]["Metadata"]["BuildMethod"] == GLOBAL_FUNCTION["Runtime"]


def test_functions_run_on_arm64_with_tracing_and_powertools_settings() -> None:
    assert GLOBAL_FUNCTION["Architectures"] == ["arm64"]
    assert GLOBAL_FUNCTION["Tracing"] == "Active"
    variables = GLOBAL_FUNCTION["Environment"]["Variables"]
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"} <= set(variables)


@pytest.mark.parametrize("name", [n for n, s in RESOURCES.items() if s["Type"] == "AWS::DynamoDB::Table"])
def test_tables_are_on_demand_encrypted_with_point_in_time_recovery(name: str) -> None:
    props = RESOURCES[name]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_records_table_streams_new_and_old_images() -> None:
    assert RESOURCES["RecordsTable"]["Properties"]["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def _consumers(queue: str) -> list[tuple[str, dict[str, Any]]]:
    """(function, SQS event properties) of every function the queue feeds."""
    return [
        (name, event["Properties"])
        for name, spec in FUNCTIONS.items()
        for event in spec["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS" and event["Properties"]["Queue"] == {"Fn::GetAtt": [queue, "Arn"]}
    ]


def _timeout(function: str) -> int:
    return int(FUNCTIONS[function]["Properties"].get("Timeout", GLOBAL_FUNCTION["Timeout"]))


@pytest.mark.parametrize("queue", ["SyncQueue", "ExportQueue"])
def test_work_queues_have_a_dead_letter_queue_and_six_times_their_consumers_timeout(queue: str) -> None:
    props = RESOURCES[queue]["Properties"]
    dlq = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert RESOURCES[dlq]["Properties"].get("FifoQueue", False) == props.get("FifoQueue", False)
    assert props["RedrivePolicy"]["maxReceiveCount"] == 5
    consumers = _consumers(queue)
    assert consumers, f"{queue} feeds no function"
    assert props["VisibilityTimeout"] >= 6 * max(_timeout(name) for name, _ in consumers)


def test_sync_queue_is_fifo_and_its_worker_takes_ten_changes_a_batch() -> None:
    assert RESOURCES["SyncQueue"]["Properties"]["FifoQueue"] is True
    [(name, event)] = _consumers("SyncQueue")
    assert (name, event["BatchSize"]) == ("SyncWorkerFunction", 10)


def test_export_queue_is_standard_and_its_worker_takes_a_composite_calls_worth() -> None:
    assert "FifoQueue" not in RESOURCES["ExportQueue"]["Properties"]
    [(name, event)] = _consumers("ExportQueue")
    assert name == "ExportWorkerFunction"
    assert event["BatchSize"] == 1000  # 5 sObject Collections of 200: one Composite request
    # SQS requires a window of at least 1 s above 10 messages a batch; more would hold a lone edit longer.
    assert event["MaximumBatchingWindowInSeconds"] == 1


@pytest.mark.parametrize("function", ["SyncWorkerFunction", "ExportWorkerFunction"])
def test_workers_know_their_queues_max_receive_count_to_mark_the_last_attempt_dead(function: str) -> None:
    queue = _sqs_event(FUNCTIONS[function])["Queue"]["Fn::GetAtt"][0]
    variables = FUNCTIONS[function]["Properties"]["Environment"]["Variables"]
    assert variables["MAX_RECEIVE_COUNT"] == RESOURCES[queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"]


def _sqs_event(spec: dict[str, Any]) -> dict[str, Any]:
    [event] = [event["Properties"] for event in spec["Properties"]["Events"].values() if event["Type"] == "SQS"]
    return event


def test_the_records_stream_feeds_the_outbox_with_retries_bisection_and_a_failure_queue() -> None:
    [event] = FUNCTIONS["RecordStreamFunction"]["Properties"]["Events"].values()
    props = event["Properties"]
    assert event["Type"] == "DynamoDB"
    assert props["Stream"] == {"Fn::GetAtt": ["RecordsTable", "StreamArn"]}
    assert props["StartingPosition"] == "LATEST"
    assert props["BisectBatchOnFunctionError"] is True
    assert 0 < props["MaximumRetryAttempts"] <= 10
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    destination = props["DestinationConfig"]["OnFailure"]
    assert destination["Type"] == "SQS"
    assert RESOURCES[destination["Destination"]["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue"


@pytest.mark.parametrize(
    "queue", ["SyncDeadLetterQueue", "ExportDeadLetterQueue", "RecordStreamFailureQueue", "ChangeEventFailureQueue"]
)
def test_every_dead_letter_queue_has_an_alarm_on_its_depth(queue: str) -> None:
    alarms = [
        spec["Properties"]
        for spec in RESOURCES.values()
        if spec["Type"] == "AWS::CloudWatch::Alarm"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}} in spec["Properties"]["Dimensions"]
    ]
    assert [(alarm["MetricName"], alarm["Threshold"]) for alarm in alarms] == [
        ("ApproximateNumberOfMessagesVisible", 0)
    ]


def _secret_grants(function: str) -> list[Any]:
    return [
        statement["Resource"]
        for policy in FUNCTIONS[function]["Properties"].get("Policies", [])
        for statement in policy.get("Statement", [])
        if "secretsmanager:GetSecretValue" in json.dumps(statement["Action"])
    ]


# The export worker writes to Salesforce, the scheduled sync pulls from it, the change-event consumer reads
# gap events' records and diff fields, and sync administration's first load reads the entity's rows (apart from
# sync_admin_api, which never loads it).
SALESFORCE_CALLERS = {
    "ExportWorkerFunction",
    "ScheduledSyncFunction",
    "SalesforceEventsFunction",
    "SyncFirstLoadApiFunction",
}


def test_only_the_salesforce_callers_have_its_layer_and_read_the_connection_secret() -> None:
    assert _salesforce_layer_users() == SALESFORCE_CALLERS
    readers = {name for name in FUNCTIONS if "SalesforceSecretArn" in json.dumps(_secret_grants(name))}
    assert readers == SALESFORCE_CALLERS


def test_the_webhook_reads_only_its_token_secret() -> None:
    readers = {name: _secret_grants(name) for name in FUNCTIONS if _secret_grants(name)}
    assert readers.pop("SalesforceWebhookFunction") == [{"Ref": "WebhookTokenSecret"}]
    assert all("WebhookTokenSecret" not in json.dumps(grants) for grants in readers.values())
    variables = FUNCTIONS["SalesforceWebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["WEBHOOK_TOKEN_SECRET_ARN"] == {"Ref": "WebhookTokenSecret"}


def _sqs_grants(function: str) -> set[tuple[str, str]]:
    return {
        (action, json.dumps(resource))
        for policy in FUNCTIONS[function]["Properties"].get("Policies", [])
        for statement in policy.get("Statement", [])
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if action.startswith("sqs:")
        for resource in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    }


@pytest.mark.parametrize(
    ("function", "queues"),
    [
        ("RecordStreamFunction", {"ExportQueue"}),
        ("ExportWorkerFunction", {"ExportQueue"}),
        # Parked changes queued again when their record links; a conflict the hub won exported.
        ("SyncWorkerFunction", {"SyncQueue", "ExportQueue"}),
        ("SalesforceWebhookFunction", {"SyncQueue"}),
        # Pulled changes and pushed records.
        ("ScheduledSyncFunction", {"SyncQueue", "ExportQueue"}),
        ("SalesforceEventsFunction", {"SyncQueue"}),
        # A first load's links and creates (inbound changes) and exports.
        ("SyncFirstLoadApiFunction", {"SyncQueue", "ExportQueue"}),
    ],
)
def test_only_the_export_queues_producers_may_send_to_it_and_nothing_else(function: str, queues: set[str]) -> None:
    expected = {("sqs:SendMessage", json.dumps({"Fn::GetAtt": [queue, "Arn"]})) for queue in queues}
    assert _sqs_grants(function) == expected


def test_change_events_come_from_the_event_relay_bus_with_retries_and_a_failure_queue_either_way() -> None:
    spec = FUNCTIONS["SalesforceEventsFunction"]["Properties"]
    [event] = spec["Events"].values()
    props = event["Properties"]
    assert event["Type"] == "EventBridgeRule"
    # The partner bus is a parameter; its default (the default bus) receives no Salesforce partner event.
    assert props["EventBusName"] == {"Ref": "SalesforceEventBusName"}
    parameter = template()["Parameters"]["SalesforceEventBusName"]
    assert parameter["Default"] == "default"
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.match("aws.partner/salesforce.com/00D5e000002XzQkEAK/0YL5e000000CaRbGAK")
    assert not pattern.match("aws.partner/salesforce.com/00D5e000002XzQkEAK/0YL5e000000CaRbGAK/x")
    assert props["Pattern"]["source"] == [{"prefix": "aws.partner/salesforce.com/"}]
    # EventBridge: an invocation that cannot start is retried for a day, then dead-lettered ...
    assert props["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    failures = {"Fn::GetAtt": ["ChangeEventFailureQueue", "Arn"]}
    assert props["DeadLetterConfig"] == {"Arn": failures}
    # ... Lambda: a run that fails (the sync queue refused a change) is retried twice, then kept in the same queue.
    invoke = spec["EventInvokeConfig"]
    assert invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": failures}
    # Only that rule may put dead letters there.
    [statement] = RESOURCES["ChangeEventFailureQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["SalesforceEventsFunctionChangeEvents", "Arn"]
    }
    assert RESOURCES["ChangeEventFailureQueue"]["Properties"]["MessageRetentionPeriod"] == 1209600


def test_sync_administration_sends_to_the_work_queues_and_reads_only_their_dead_letter_queues() -> None:
    # Processing an entity (held changes, records Modified Locally) and retries send work; a replay moves dead
    # letters back: it receives, deletes once re-sent, and releases what it leaves.
    sends = {("sqs:SendMessage", json.dumps({"Fn::GetAtt": [queue, "Arn"]})) for queue in ("SyncQueue", "ExportQueue")}
    replays = {
        (action, json.dumps({"Fn::GetAtt": [queue, "Arn"]}))
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility")
        for queue in ("SyncDeadLetterQueue", "ExportDeadLetterQueue")
    }
    assert _sqs_grants("SyncAdminApiFunction") == sends | replays
    variables = FUNCTIONS["SyncAdminApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables == {
        "SYNC_DEAD_LETTER_QUEUE_URL": {"Ref": "SyncDeadLetterQueue"},
        "EXPORT_DEAD_LETTER_QUEUE_URL": {"Ref": "ExportDeadLetterQueue"},
    }


def test_every_sqs_mapping_reports_batch_item_failures() -> None:
    for spec in FUNCTIONS.values():
        for event in spec["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                assert "ReportBatchItemFailures" in event["Properties"].get("FunctionResponseTypes", [])


# Salesforce cannot sign an outbound message with SigV4 or a JWT: its route is the one without the API's
# authoriser, guarded in the function by the secret path token and the allowed org ids instead.
WEBHOOK_ROUTE = ("POST", "/salesforce/outbound/{token}", "SalesforceWebhookFunction")


def test_every_api_route_is_authorised_by_iam_or_jwt_but_the_outbound_message_webhook() -> None:
    for route in api_routes():
        if (route.method, route.path, route.function) == WEBHOOK_ROUTE:
            continue
        assert route.authorization == {"Fn::If": ["UseJwtAuth", "JWT", "AWS_IAM"]}, route


def test_the_outbound_message_webhook_is_the_one_route_without_the_apis_authoriser() -> None:
    unauthorised = [
        (route.method, route.path, route.function, route.authorization)
        for route in api_routes()
        if route.authorization != {"Fn::If": ["UseJwtAuth", "JWT", "AWS_IAM"]}
    ]
    assert unauthorised == [(*WEBHOOK_ROUTE, "NONE")]
    # The token is a path segment of its own: no greedy variable could swallow it or let a prefix through.
    assert WEBHOOK_ROUTE[1].endswith("/{token}")


def test_policies_use_sam_templates_or_named_actions_never_wildcards() -> None:
    for name, spec in FUNCTIONS.items():
        for policy in spec["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all("*" not in action for action in actions), name
                resources = (
                    statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                )
                assert all("*" not in json.dumps(resource) for resource in resources), name


def _grant(table: str, index: str | None, actions: set[str], leading_keys: set[str] | None = None) -> DynamoGrant:
    return DynamoGrant(table, index, frozenset(actions), None if leading_keys is None else frozenset(leading_keys))


# What each function may do in DynamoDB, and nothing more: the calls its code makes (its factory's adapters
# and Powertools idempotency), table by table and index by index. A transaction needs the item actions it
# contains. tests/integration/test_least_privilege.py checks the code against the same grants.
_IDEMPOTENCY = _grant("IdempotencyTable", None, {"GetItem", "PutItem", "UpdateItem", "DeleteItem"})
_RECORD_NUMBERS = _grant("SyncConfigTable", None, {"GetItem", "UpdateItem"}, {"SEQUENCE"})
_SYNC_STATE_WRITES = _grant("SyncStateTable", None, {"GetItem", "PutItem"})
EXPECTED_DYNAMODB_GRANTS: dict[str, set[DynamoGrant]] = {
    "RecordsApiFunction": {
        _grant("RecordsTable", None, {"GetItem", "Query", "PutItem", "DeleteItem"}),
        _SYNC_STATE_WRITES,
        _grant("SyncStateTable", "by_salesforce_id", {"Query"}),
        _RECORD_NUMBERS,
        _IDEMPOTENCY,
    },
    "CasesApiFunction": {
        _grant("RecordsTable", None, {"GetItem", "Query", "PutItem"}),  # cases are never deleted
        *(_grant("RecordsTable", index, {"Query"}) for index in ("by_account", "by_owner", "by_status")),
        _SYNC_STATE_WRITES,
        _RECORD_NUMBERS,
        _grant(
            "SyncConfigTable",
            None,
            {"GetItem", "Query", "PutItem", "DeleteItem"},  # a shorter assignment map deletes chunks
            {"CASE_CLASS", "WORKGROUP", "CONTRACT", "CASE_ASSIGNMENT_RULES"},
        ),
        _IDEMPOTENCY,
    },
    # The sync engine (tests/integration/test_least_privilege_engine.py): the workers read records, states
    # and links in batches of named keys and write them in the one write path's transactions.
    "SyncWorkerFunction": {
        # delete: a delete policy; Query: the billable activities of a case released from Salesforce
        _grant("RecordsTable", None, {"BatchGetItem", "PutItem", "DeleteItem", "Query"}),
        # link claimed, released; changes parked for a link (BatchWriteItem) and taken back (Query)
        _grant("SyncStateTable", None, {"BatchGetItem", "PutItem", "DeleteItem", "Query", "BatchWriteItem"}),
        # a case's status change from Salesforce runs its workflow action: the case's class, workgroup, contract
        _grant("SyncConfigTable", None, {"GetItem"}, {"ENTITY", "SEQUENCE", "CASE_CLASS", "WORKGROUP", "CONTRACT"}),
        _grant("SyncConfigTable", None, {"UpdateItem"}, {"SEQUENCE"}),
        _grant("ErrorLogTable", None, {"UpdateItem", "GetItem", "PutItem"}),
    },
    "ExportWorkerFunction": {
        _grant("RecordsTable", None, {"BatchGetItem"}),  # an export never writes a record
        # DeleteItem: a hub delete releases the record's link
        _grant("SyncStateTable", None, {"BatchGetItem", "GetItem", "PutItem", "DeleteItem", "Query", "BatchWriteItem"}),
        _grant("SyncConfigTable", None, {"GetItem"}, {"ENTITY", "BUDGET"}),
        _grant("SyncConfigTable", None, {"UpdateItem"}, {"BUDGET"}),
        _grant("ErrorLogTable", None, {"UpdateItem", "GetItem", "PutItem"}),
    },
    "RecordStreamFunction": {_grant("SyncConfigTable", None, {"GetItem"}, {"ENTITY"})},
    # The scheduled sync (tests/integration/test_scheduled_sync.py): configurations, its runs and leases, pull
    # requests, the records waiting to be pushed, the API budget.
    "ScheduledSyncFunction": {
        _grant("SyncConfigTable", None, {"Query"}, {"ENTITY"}),
        _grant("SyncConfigTable", None, {"GetItem", "UpdateItem"}, {"BUDGET"}),
        _grant("SyncStateTable", None, {"Query", "UpdateItem"}, {"SCHEDULE"}),
        _grant("SyncStateTable", None, {"Query", "DeleteItem"}, {"PULL_REQUEST"}),
        _grant("SyncStateTable", "by_status", {"Query"}),
        _grant("SyncStateTable", None, {"BatchGetItem"}),
    },
    # Sync administration (tests/integration/test_least_privilege.py): configurations and their versions (saved
    # in one transaction), the records by sync status (keys only), and the changes held while stopped.
    "SyncAdminApiFunction": {
        _grant("SyncConfigTable", None, {"GetItem", "Query", "PutItem"}, {"ENTITY", "CONFIG_VERSION"}),
        # The scheduled sync's runs and pull requests (read), and Sync Now's pull request.
        _grant("SyncStateTable", None, {"Query"}, {"SCHEDULE", "PULL_REQUEST"}),
        _grant("SyncStateTable", None, {"UpdateItem"}, {"PULL_REQUEST"}),
        _grant("SyncStateTable", "by_status", {"Query"}),
        _grant("SyncStateTable", None, {"Query", "BatchWriteItem"}, {f"HELD#{entity.value}" for entity in EntityName}),
        # The error log: entries read and saved (retry, resolve), found by status.
        _grant("ErrorLogTable", None, {"GetItem", "PutItem"}),
        _grant("ErrorLogTable", "by_status", {"Query"}),
    },
    # The first load (tests/integration/test_sync_first_load_api.py): the entity's records and states, its
    # configuration, the API budget, ambiguous matches in the error log.
    "SyncFirstLoadApiFunction": {
        _grant("RecordsTable", None, {"Query", "BatchGetItem"}),
        _grant("SyncStateTable", None, {"BatchGetItem", "GetItem", "PutItem"}),
        _grant("SyncConfigTable", None, {"GetItem"}, {"ENTITY", "BUDGET"}),
        _grant("SyncConfigTable", None, {"UpdateItem"}, {"BUDGET"}),
        _grant("ErrorLogTable", None, {"UpdateItem"}),
    },
    # Real time from Salesforce (tests/integration/test_salesforce_webhook.py and test_salesforce_events.py): the
    # entity's configuration; the change-event consumer also counts its Salesforce reads and records pull requests.
    "SalesforceWebhookFunction": {_grant("SyncConfigTable", None, {"GetItem"}, {"ENTITY"})},
    "SalesforceEventsFunction": {
        _grant("SyncConfigTable", None, {"GetItem"}, {"ENTITY", "BUDGET"}),
        _grant("SyncConfigTable", None, {"UpdateItem"}, {"BUDGET"}),
        _grant("SyncStateTable", None, {"UpdateItem"}, {"PULL_REQUEST"}),
    },
}
# Batches of named keys: only the engine's workers need them, and sync administration to remove held changes
# once they are back on the sync queue.
BATCH_USERS = {
    "SyncWorkerFunction",
    "ExportWorkerFunction",
    "ScheduledSyncFunction",
    "SyncAdminApiFunction",
    "SyncFirstLoadApiFunction",
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_each_function_may_call_only_the_dynamodb_actions_it_uses_on_the_tables_it_uses(name: str) -> None:
    assert name in EXPECTED_DYNAMODB_GRANTS, f"{name}: list the DynamoDB grants it needs here"
    grants = dynamodb_grants(name)  # refuses SAM policy templates and wildcards
    assert len(grants) == len(set(grants)), f"{name} grants the same thing twice"
    assert set(grants) == EXPECTED_DYNAMODB_GRANTS[name]
    tables = {logical_id for logical_id, spec in RESOURCES.items() if spec["Type"] == "AWS::DynamoDB::Table"}
    for grant in grants:
        assert grant.table in tables, grant
        declared = [
            index["IndexName"] for index in RESOURCES[grant.table]["Properties"].get("GlobalSecondaryIndexes", [])
        ]
        assert grant.index is None or grant.index in declared, grant
        # No function reads or rewrites a whole table at once.
        assert not grant.actions & {"Scan", "PartiQLSelect", "PartiQLUpdate", "PartiQLDelete"}, grant
        assert name in BATCH_USERS or not grant.actions & {"BatchWriteItem", "BatchGetItem"}, grant


def test_the_records_api_cannot_touch_case_settings_or_the_salesforce_budget() -> None:
    config_grants = [grant for grant in dynamodb_grants("RecordsApiFunction") if grant.table == "SyncConfigTable"]
    for partition in ("CASE_CLASS", "WORKGROUP", "CONTRACT", "CASE_ASSIGNMENT_RULES", "BUDGET"):
        for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"):
            assert not any(grant.allows("SyncConfigTable", None, action, partition) for grant in config_grants)
    assert not any(
        grant.allows("SyncConfigTable", None, "PutItem", "BUDGET") for grant in dynamodb_grants("CasesApiFunction")
    )


def test_a_grant_on_a_wildcard_or_through_a_sam_policy_template_is_refused() -> None:
    doc = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Policies": [{"DynamoDBCrudPolicy": {"TableName": {"Ref": "T"}}}]},
            }
        }
    }
    with pytest.raises(ValueError, match="not an explicit statement list"):
        dynamodb_grants("Fn", doc)
    statement = {"Effect": "Allow", "Action": "dynamodb:*", "Resource": {"Fn::GetAtt": ["T", "Arn"]}}
    doc["Resources"]["Fn"]["Properties"]["Policies"] = [{"Statement": [statement]}]
    with pytest.raises(ValueError, match="named actions"):
        dynamodb_grants("Fn", doc)
    statement |= {"Action": "dynamodb:GetItem", "Resource": {"Fn::Sub": "${T.Arn}/*"}}
    with pytest.raises(ValueError, match="one table or index"):
        dynamodb_grants("Fn", doc)


def _salesforce_layer_users() -> set[str]:
    return {
        name for name, spec in FUNCTIONS.items() if {"Ref": "SalesforceLayer"} in spec["Properties"].get("Layers", [])
    }


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functions_without_the_salesforce_layer_never_import_simple_salesforce(name: str) -> None:
    if name in _salesforce_layer_users():
        pytest.skip(f"{name} calls Salesforce")
    code = f"import sys, {function_module(name)}; print('simple_salesforce' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PYTHONPATH": f"{REPO / 'layers' / 'sync_core'}:{REPO}", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"


def _route_pattern(path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{[^}]+\+\}", ".+", path)
    pattern = re.sub(r"\{[^}]+\}", "[^/]+", pattern)
    return re.compile(f"^{pattern}$")


def test_openapi_document_is_the_one_the_resolvers_generate() -> None:
    assert json.loads(OPENAPI_PATH.read_text()) == json.loads(render(generate())), "run `make openapi`"


def test_every_openapi_path_is_served_by_a_template_route_to_the_function_that_documents_it() -> None:
    documented = json.loads(OPENAPI_PATH.read_text())["paths"]
    routes = api_routes()
    for path, operations in documented.items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method in operations:
            assert any(
                _route_pattern(route.path).match(concrete) and route.method in ("ANY", method.upper())
                for route in routes
            ), f"{method.upper()} {path} has no route in template.yaml"


def test_every_template_route_has_documented_operations() -> None:
    documented = [re.sub(r"\{[^}]+\}", "x", path) for path in json.loads(OPENAPI_PATH.read_text())["paths"]]
    for route in api_routes():
        if (route.method, route.path, route.function) == WEBHOOK_ROUTE:
            continue  # SOAP, specified by Salesforce's Outbound Messaging WSDL, not by the hub's OpenAPI document
        assert any(_route_pattern(route.path).match(path) for path in documented), route


def test_openapi_document_is_valid_openapi() -> None:
    from openapi_spec_validator import validate

    validate(json.loads(OPENAPI_PATH.read_text()))


def test_the_scheduled_sync_is_one_minute_tick_that_reads_each_entitys_schedule_from_its_configuration() -> None:
    spec = FUNCTIONS["ScheduledSyncFunction"]["Properties"]
    assert spec["Events"] == {
        "Tick": {
            "Type": "Schedule",
            "Properties": {
                "Schedule": "rate(1 minute)",
                "Description": "The scheduled sync's tick; each entity's schedule is in its sync configuration",
            },
        }
    }
    # No schedule per entity in the stack: a redeploy can neither reset nor drop an administrator's schedules.
    kinds = {resource["Type"] for resource in RESOURCES.values()}
    assert not kinds & {"AWS::Scheduler::Schedule", "AWS::Events::Rule"}
    # The handler leaves its last minute free (functions/scheduled_sync/app.py SAFETY_MARGIN); the lease
    # (services.scheduled_sync.ScheduleOptions.lease) outlives a run the timeout killed.
    from datetime import timedelta

    from sync_core.services.scheduled_sync import ScheduleOptions

    assert timedelta(seconds=spec["Timeout"]) < ScheduleOptions().lease
    assert spec["Timeout"] > 120
