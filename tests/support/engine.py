"""The sync engine in-process: the template's functions fed by its event sources, as Lambda runs them.

moto (in-process) holds the tables and queues from template.yaml and the Salesforce emulator stands in for
the org (its connection in Secrets Manager, as deployed). The records API, the records table's stream
(record_stream), the export queue (export_worker) and the sync queue (sync_worker) run through the local
stack's event sources with the template's batch sizes, windows and partial-batch settings; `drain()` runs
them in turn until nothing moves, and gives failed messages back to the queue at once instead of after the
visibility timeout (a clock that jumps, not a sleep).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local.cloudformation import StackContext
from local.event_sources import DynamoStreamEventSource, SqsEventSource
from local.runtime import LocalFunction
from sync_core.adapters.sqs.change_queue import SqsChangeQueue
from sync_core.domain.sync.changes import Change
from tests.support.api import ApiAnswer, Handler, call, http_event
from tests.support.aws_stack import hub_aws_environment
from tools.template_info import function_specs, template

STACK = "sync-hub-engine"
API_FUNCTIONS = ("RecordsApiFunction", "CasesApiFunction", "SyncAdminApiFunction", "SyncFirstLoadApiFunction")
WORKERS = ("RecordStreamFunction", "ExportWorkerFunction", "SyncWorkerFunction")


@dataclass
class DrainReport:
    rounds: int = 0
    messages: dict[str, int] = field(default_factory=dict)  # function -> messages handed to it
    failures: dict[str, int] = field(default_factory=dict)  # function -> messages it reported failed


@dataclass
class Engine:
    environment: dict[str, str]
    emulator: Any
    functions: dict[str, LocalFunction]
    stream: DynamoStreamEventSource
    exports: SqsEventSource
    imports: SqsEventSource
    sqs: Any
    context: StackContext

    # ------------------------------------------------------------------ producers
    def api(self, method: str, path: str, *, body: Any = None, user: str = "alice", **kwargs: Any) -> ApiAnswer:
        """A records API request, as API Gateway hands it to the function."""
        collection = "/".join(path.split("/")[:3])
        route = "ANY /records/{entity}" if path == collection else "ANY /records/{entity}/{proxy+}"
        handler: Handler = self.functions["RecordsApiFunction"].handler()  # type: ignore[assignment]
        return call(handler, http_event(method, path, route_key=route, body=body, user=user, **kwargs))

    def cases(self, method: str, path: str, *, body: Any = None, user: str = "alice", **kwargs: Any) -> ApiAnswer:
        """A cases API request (settings as an administrator), as API Gateway hands it to the function."""
        route = "ANY /cases" if path == "/cases" else "ANY /cases/{proxy+}"
        if path.startswith("/cases/settings"):
            kwargs.setdefault("roles", ("administrator",))
        handler: Handler = self.functions["CasesApiFunction"].handler()  # type: ignore[assignment]
        return call(handler, http_event(method, path, route_key=route, body=body, user=user, **kwargs))

    def tick(self) -> dict[str, Any]:
        """The scheduled sync's one-minute tick, as EventBridge delivers it; its report."""
        sample = Path(__file__).resolve().parents[2] / "events" / "scheduled_tick.json"
        event = {**json.loads(sample.read_text()), "id": str(uuid.uuid4())}
        event["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        report: dict[str, Any] = self.functions["ScheduledSyncFunction"].invoke(event)
        return report

    def relay(self, event: dict[str, Any]) -> Any:
        """A Salesforce change event as Event Relay's EventBridge rule hands it to salesforce_events (exceptions
        propagate, as a failed asynchronous invocation that Lambda retries)."""
        return self.functions["SalesforceEventsFunction"].invoke(event)

    def admin(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        user: str = "admin",
        roles: tuple[str, ...] = ("administrator",),
        **kwargs: Any,
    ) -> ApiAnswer:
        """A sync administration request (an administrator unless `roles` says otherwise)."""
        first_load = method == "POST" and re.fullmatch(r"/sync/entities/[^/]+/process-all", path)
        name, route = (
            ("SyncFirstLoadApiFunction", "POST /sync/entities/{entity}/process-all")
            if first_load
            else ("SyncAdminApiFunction", "ANY /sync/{proxy+}")
        )
        handler: Handler = self.functions[name].handler()  # type: ignore[assignment]
        event = http_event(method, path, route_key=route, body=body, user=user, roles=roles, **kwargs)
        return call(handler, event)

    def put_inbound(self, *changes: Change) -> None:
        """Inbound changes on the FIFO sync queue, through the queue adapter the producers use."""
        refused = SqsChangeQueue(self.sqs, queue_url=self.environment["SYNC_QUEUE_URL"], fifo=True).send(changes)
        assert not refused, refused

    # ------------------------------------------------------------------ running
    def drain(self, *, max_rounds: int = 30) -> DrainReport:
        """Run the event sources until a round moves nothing; failed messages come back at once. A round reads
        the stream until it is quiet first: a burst of writes is queued faster than the export queue's 1 s
        batching window, as in AWS."""
        report = DrainReport()
        for _ in range(max_rounds):
            if not self.step(report):
                return report
        raise AssertionError(f"the engine did not settle in {max_rounds} rounds: {report}")

    def step(self, report: DrainReport | None = None) -> int:
        """One round of drain(): the stream until quiet, then one batch of each queue (failed messages come back
        at once). How much moved (stream batches and messages); the counts go into `report`."""
        report = report if report is not None else DrainReport()
        report.rounds += 1
        moved = self.run_stream(max_rounds=10_000)
        for source in (self.exports, self.imports):
            count, failed = source.poll_batch()
            name = source.function.name
            report.messages[name] = report.messages.get(name, 0) + count
            report.failures[name] = report.failures.get(name, 0) + len(failed)
            if failed:
                self._visible_now(source.queue_url, failed)
            moved += count
        return moved

    def run_stream(self, *, max_rounds: int = 30) -> int:
        """Only the records stream, until it is quiet (exports queued, not sent); how many batches it ran."""
        for round_ in range(max_rounds):
            if not self._poll_stream():
                return round_
        raise AssertionError(f"the stream did not settle in {max_rounds} rounds")

    def _poll_stream(self) -> int:
        function = self.functions["RecordStreamFunction"]
        assert isinstance(function, _CountingFunction)
        before = len(function.calls)
        self.stream.poll_once()
        return len(function.calls) - before

    def _visible_now(self, queue_url: str, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            self.sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                    for index, message in enumerate(messages[start : start + 10])
                ],
            )

    def take_messages(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message waiting on a queue, consumed (bodies parsed)."""
        bodies: list[dict[str, Any]] = []
        while messages := self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
            bodies += [json.loads(message["Body"]) for message in messages]
            self.sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return bodies

    def queue_url(self, logical_id: str) -> str:
        return str(self.context.physical[logical_id])


@dataclass
class _CountingFunction(LocalFunction):
    """A LocalFunction that remembers its invocations (the harness tells a quiet stream from a busy one)."""

    calls: list[Any] = field(default_factory=list)

    def invoke(self, event: Any) -> Any:
        self.calls.append(event)
        return super().invoke(event)


def _connect_emulator(emulator: Any) -> None:
    secret = {
        "auth_flow": "client_credentials",
        "login_url": emulator.url,
        "client_id": "hub-client",
        "client_secret": "hub-secret",
    }
    arn = boto3.client("secretsmanager").create_secret(Name=f"{STACK}/salesforce", SecretString=json.dumps(secret))
    os.environ.update({"SALESFORCE_SECRET_ARN": arn["ARN"], "SALESFORCE_CA_BUNDLE": emulator.ca_path})


@contextmanager
def running_engine(**emulator_options: Any) -> Iterator[Engine]:
    """moto + the emulator + the engine's functions and event sources, configured from template.yaml."""
    from local.moto_fixes import install_transaction_rollback_fix
    from local.sf_emulator import EmulatorConfig, start_emulator
    from sync_core.adapters.aws import clear_clients
    from sync_core.adapters.salesforce import clear_salesforce_caches
    from sync_core.config import get_settings

    install_transaction_rollback_fix()  # as the local stack's moto server: a refused write keeps the stream
    emulator = start_emulator(EmulatorConfig(port=0, **{"daily_api_limit": 1_000_000, **emulator_options}))
    saved = dict(os.environ)
    try:
        with hub_aws_environment(STACK) as environment:
            _connect_emulator(emulator)
            session = boto3.Session(region_name="us-east-1")
            doc = template()
            context = StackContext(doc, session, STACK, _physical(session))
            specs = function_specs(doc)
            for spec in specs.values():  # the functions' own settings (MAX_RECEIVE_COUNT ...)
                for name, value in context.environment(spec.environment).items():
                    if not name.endswith(("_TABLE", "_QUEUE_URL")) and name not in os.environ:
                        os.environ[name] = value
            os.environ["SALESFORCE_API_BUDGET_SHARE"] = "1"
            for clear in (get_settings.cache_clear, clear_clients, clear_salesforce_caches):
                clear()
            functions: dict[str, LocalFunction] = {
                name: _CountingFunction(spec, context.attribute(name, "Arn"))
                for name, spec in specs.items()
                if name in (*WORKERS, *API_FUNCTIONS, "ScheduledSyncFunction", "SalesforceEventsFunction")
            }
            _reset_handler_caches(functions)
            sqs = session.client("sqs")
            # Stream ARNs route to account endpoints (<account>.streams-ddb...), which in-process moto does not serve.
            streams = session.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
            engine = Engine(
                environment=environment,
                emulator=emulator,
                functions=functions,
                stream=_stream_source(functions["RecordStreamFunction"], streams, sqs, context),
                exports=_sqs_source(functions["ExportWorkerFunction"], sqs, context),
                imports=_sqs_source(functions["SyncWorkerFunction"], sqs, context),
                sqs=sqs,
                context=context,
            )
            engine.stream._open_shards()  # LATEST: from now on
            yield engine
            _reset_handler_caches(functions)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        for clear in (get_settings.cache_clear, clear_clients, clear_salesforce_caches):
            clear()
        emulator.stop()


def _physical(session: Any) -> dict[str, str]:
    cloudformation = session.client("cloudformation")
    return {
        item["LogicalResourceId"]: item["PhysicalResourceId"]
        for item in cloudformation.describe_stack_resources(StackName=STACK)["StackResources"]
    }


def _reset_handler_caches(functions: dict[str, LocalFunction]) -> None:
    """Handlers build their services once per container; each engine is a fresh container."""
    import sys

    for function in functions.values():
        module = sys.modules.get(function.spec.module)
        for value in vars(module).values() if module else ():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def _event(function: LocalFunction, kind: str) -> dict[str, Any]:
    (event,) = [event.properties for event in function.spec.events if event.kind == kind]
    return event


def _sqs_source(function: LocalFunction, sqs: Any, context: StackContext) -> SqsEventSource:
    props = _event(function, "SQS")
    queue = props["Queue"]["Fn::GetAtt"][0]
    return SqsEventSource(
        function,
        sqs,
        queue_url=context.physical[queue],
        queue_arn=str(context.resolve(props["Queue"])),
        batch_size=int(props.get("BatchSize", 10)),
        batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
        wait_seconds=0,
    )


def _stream_source(function: LocalFunction, streams: Any, sqs: Any, context: StackContext) -> DynamoStreamEventSource:
    props = _event(function, "DynamoDB")
    destination = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    return DynamoStreamEventSource(
        function,
        streams,
        stream_arn=str(context.resolve(props["Stream"])),
        batch_size=int(props["BatchSize"]),
        starting_position=str(props["StartingPosition"]),
        report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
        maximum_retry_attempts=int(props["MaximumRetryAttempts"]),
        poll_seconds=0,
        retry_base_seconds=0,
        on_failure=(sqs, context.physical[destination]),
    )
