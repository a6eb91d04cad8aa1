"""Real time from Salesforce, each figure beside its baseline measured in the same run (in-process, moto).

1. Outbound messages: acknowledging a message of 100 notifications through salesforce_webhook's handler
   (token, defusedxml parse, org check, 100 changes, 10 SendMessageBatch calls, the Ack), p50 and p99,
   against the SQS calls alone (the same 100 changes sent through the same queue adapter). moto's SQS is
   made to scale as for the sync engine's benchmark (benchmarks/moto_speedups.py); the queue is emptied
   between runs, so each run sends to an empty queue.
2. Change events: events per second through salesforce_events' handler (Powertools parser, the mapping, the echo
   check, one SendMessageBatch per event) for UPDATE events of one record each, against the same changes'
   SendMessageBatch calls alone, one call per event as the consumer makes them.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import uuid
from typing import Any

from benchmarks.common import percentile, print_table

WEBHOOK_RUNS = int(os.environ.get("HUB_BENCH_WEBHOOK_RUNS", "200"))
CHANGE_EVENT_COUNT = int(os.environ.get("HUB_BENCH_CHANGE_EVENTS", "500"))
TOKEN = "bench-token-0123456789abcdefghijklmnopqrstuv"
ORG_ID = "00D5e000002XzQkEAK"


def _environment() -> None:
    for name, value in {
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }.items():
        os.environ.setdefault(name, value)


def outbound_message(count: int) -> str:
    """A message of `count` Account notifications, shaped as Salesforce sends them (fresh notification ids)."""
    batch = uuid.uuid4().hex[:6]
    notifications = "".join(
        "<Notification>"
        f"<Id>04l5e{batch}{index:07d}</Id>"
        '<sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>0015e{index:013d}</sf:Id>"
        "<sf:CreatedDate>2026-09-09T19:01:52.000Z</sf:CreatedDate>"
        "<sf:Industry>Transportation</sf:Industry>"
        "<sf:LastModifiedDate>2026-09-09T19:04:10.000Z</sf:LastModifiedDate>"
        f"<sf:Name>Account {index} B.V.</sf:Name><sf:Phone>+31 10 555 {index:04d}</sf:Phone>"
        "<sf:SystemModstamp>2026-09-09T19:04:10.000Z</sf:SystemModstamp>"
        "</sObject></Notification>"
        for index in range(count)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{ORG_ID}</OrganizationId><ActionId>04k5e000000KzVnAAK</ActionId>"
        '<SessionId xsi:nil="true"/>'
        "<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/64.0/00D5e000002XzQk</EnterpriseUrl>"
        "<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/64.0/00D5e000002XzQk</PartnerUrl>"
        f"{notifications}</notifications></soapenv:Body></soapenv:Envelope>"
    )


def webhook_ack() -> None:
    import boto3

    from benchmarks.moto_speedups import faster_moto
    from tests.conftest import FakeLambdaContext, load_event
    from tests.support.aws_stack import hub_aws_environment

    _environment()
    with faster_moto(), hub_aws_environment("sync-hub-bench-realtime") as environment:
        from functions.salesforce_webhook import app
        from sync_core.adapters.aws import clear_clients, sqs_client
        from sync_core.adapters.sqs.change_queue import SqsChangeQueue
        from sync_core.config import get_settings
        from sync_core.domain.entities import EntityName
        from sync_core.domain.sync.outbound import notification_change, parse_outbound_message

        arn = boto3.client("secretsmanager").create_secret(Name="bench-webhook-token", SecretString=TOKEN)["ARN"]
        os.environ.update({"WEBHOOK_TOKEN_SECRET_ARN": arn, "ALLOWED_ORG_IDS": ORG_ID})
        for clear in (get_settings.cache_clear, clear_clients, app._service.cache_clear):
            clear()
        queue_url = environment["SYNC_QUEUE_URL"]
        queue = SqsChangeQueue(sqs_client(), queue_url=queue_url, fifo=True)
        template = load_event("salesforce_outbound_message")
        template["pathParameters"] = {"token": TOKEN}
        handler_ms: list[float] = []
        sqs_ms: list[float] = []
        for run in range(WEBHOOK_RUNS + 5):
            event: dict[str, Any] = {**template, "body": outbound_message(100)}
            message = parse_outbound_message(outbound_message(100).encode())
            changes = [
                notification_change(item, EntityName.ACCOUNT, configured_fields=None, received_at=_now())
                for item in message.notifications
            ]
            started = time.perf_counter()
            answer = app.lambda_handler(event, FakeLambdaContext())
            handled = (time.perf_counter() - started) * 1000
            assert answer["statusCode"] == 200, answer
            started = time.perf_counter()
            assert queue.send(changes) == []
            sent = (time.perf_counter() - started) * 1000
            if run >= 5:  # the first runs warm the caches (settings, clients, the token, the configuration)
                handler_ms.append(handled)
                sqs_ms.append(sent)
            _empty(queue_url)  # each run sends to an empty queue
        app._service.cache_clear()
    print_table(
        f"Outbound message of 100 notifications acknowledged (in-process, moto; {WEBHOOK_RUNS} runs), ms",
        ["", "p50", "p99", "max"],
        [
            ("webhook: token, parse, org, 100 changes queued, Ack", *_figures(handler_ms)),
            ("baseline: the same 100 changes' SendMessageBatch calls alone", *_figures(sqs_ms)),
        ],
    )


def change_event(index: int) -> dict[str, Any]:
    """An Account UPDATE as Event Relay puts it on EventBridge (a fresh transaction per event)."""
    from tests.conftest import load_event

    event = load_event("salesforce_change_event_update")
    payload = event["detail"]["payload"]
    payload["ChangeEventHeader"] |= {
        "recordIds": [f"0015e{index:013d}"],
        "transactionKey": str(uuid.uuid4()),
        "changedFields": ["Phone", "BillingAddress.City", "LastModifiedDate"],
        "nulledFields": [],
        "diffFields": [],
    }
    for name in ("Website", "Description"):
        payload.pop(name)
    payload["Phone"] = f"+31 10 555 {index:04d}"
    return event


def change_events() -> None:
    from benchmarks.moto_speedups import faster_moto
    from tests.conftest import FakeLambdaContext
    from tests.support.aws_stack import hub_aws_environment

    _environment()
    with faster_moto(), hub_aws_environment("sync-hub-bench-events") as environment:
        from functions.salesforce_events import app
        from sync_core.adapters.aws import clear_clients, sqs_client
        from sync_core.adapters.sqs.change_queue import SqsChangeQueue
        from sync_core.config import get_settings
        from sync_core.domain.entities import EntityName
        from sync_core.domain.sync.change_events import ChangeEventPayload, plan_change_event

        # No Salesforce call is made for these events; the setting only has to be there.
        os.environ["SALESFORCE_SECRET_ARN"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench"
        for clear in (get_settings.cache_clear, clear_clients, app._service.cache_clear):
            clear()
        queue_url = environment["SYNC_QUEUE_URL"]
        queue = SqsChangeQueue(sqs_client(), queue_url=queue_url, fifo=True)
        with contextlib.redirect_stdout(io.StringIO()):
            app.lambda_handler(
                change_event(CHANGE_EVENT_COUNT), FakeLambdaContext()
            )  # warm: settings, clients, the configuration
        _empty(queue_url)
        events = [change_event(index) for index in range(CHANGE_EVENT_COUNT)]
        changes = [
            plan_change_event(
                ChangeEventPayload.model_validate(change_event(index)["detail"]["payload"]),
                EntityName.ACCOUNT,
                hub_client_id="SyncHub",
            ).changes
            for index in range(CHANGE_EVENT_COUNT)
        ]
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the handler's metrics (EMF lines), not for the console
            for event in events:
                assert app.lambda_handler(event, FakeLambdaContext())["queued"] == 1
        handled = time.perf_counter() - started
        _empty(queue_url)
        started = time.perf_counter()
        for batch in changes:
            assert queue.send(batch) == []
        sent = time.perf_counter() - started
        _empty(queue_url)
        app._service.cache_clear()
    print_table(
        f"Change events through salesforce_events' handler (in-process, moto; {CHANGE_EVENT_COUNT} UPDATE events)",
        ["", "events/s", "ms per event"],
        [
            (
                "consumer: parse, map, echo check, queue",
                round(CHANGE_EVENT_COUNT / handled, 1),
                round(handled * 1000 / CHANGE_EVENT_COUNT, 2),
            ),
            (
                "baseline: the same changes' SendMessageBatch calls alone",
                round(CHANGE_EVENT_COUNT / sent, 1),
                round(sent * 1000 / CHANGE_EVENT_COUNT, 2),
            ),
        ],
    )


def _empty(queue_url: str) -> None:
    """Drop moto's messages at once (PurgeQueue is allowed once a minute)."""
    from moto.sqs.models import sqs_backends

    from local.cloudformation import ACCOUNT_ID

    queue = sqs_backends[ACCOUNT_ID]["us-east-1"].queues[queue_url.rsplit("/", 1)[-1]]
    with queue._messages_lock:
        queue._messages.clear()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _figures(values: list[float]) -> tuple[float, float, float]:
    return percentile(values, 0.5), percentile(values, 0.99), max(values)


def run() -> None:
    webhook_ack()
    change_events()


if __name__ == "__main__":
    run()
