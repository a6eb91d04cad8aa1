"""The hub on one machine: moto server, the template's resources, the Salesforce emulator, the local
gateway and the event sources, started and stopped together."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.events.models import EventPattern
from werkzeug.wrappers import Request, Response

from local.aws_server import start_moto_server
from local.cloudformation import ACCOUNT_ID, StackContext, create_stateful_resources
from local.event_sources import (
    DynamoStreamEventSource,
    EventBus,
    EventRule,
    EventSource,
    ScheduleEventSource,
    SqsEventSource,
)
from local.gateway import GatewayRequestHandler, LocalGateway, ServerThread
from local.runtime import LocalFunction
from local.schedules import parse_schedule
from tools.template_info import TEMPLATE, Template, api_routes, function_specs, layer_paths, load_template

log = logging.getLogger("local.stack")

HOST = "127.0.0.1"  # loopback only, ever
REGION = "us-east-1"
OUTBOUND_PATH = "/salesforce/outbound"  # the webhook route, POST /salesforce/outbound/{token}


def _env_port(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 <= int(value) < 65536:
        raise SystemExit(f"{name} must be a port number, got {value!r}")
    return int(value)


def _require_free_port(port: int, variable: str) -> None:
    """Werkzeug's server exits the process when its port is taken, so check first, with a clear message.

    The probe binds as the servers do, with SO_REUSEADDR: a port whose last connections are still in
    TIME_WAIT after Ctrl-C is free to serve again at once; only a port another socket listens on is taken.
    """
    if port == 0:  # the system picks a free one
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise OSError(f"{HOST}:{port} is in use; set {variable} to another port") from exc


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalStackConfig:
    moto_port: int = 5000
    gateway_port: int = 3000
    emulator_port: int = 8900
    stack_name: str = "sync-hub-local"
    template_path: Path = TEMPLATE
    with_emulator: bool = True
    seed_demo_data: bool = True
    default_user: str = "local-admin"
    default_roles: str = "administrator"
    log_level: str = "INFO"
    # The outbound-message webhook's path token (None: made at start-up) and the org ids it accepts
    # (None: the emulator's own org; comma-separated).
    webhook_token: str | None = None
    salesforce_org_ids: str | None = None

    @classmethod
    def from_environment(cls) -> LocalStackConfig:
        """Ports and switches from HUB_* variables (README, Local stack)."""
        return cls(
            moto_port=_env_port("HUB_MOTO_PORT", 5000),
            gateway_port=_env_port("HUB_GATEWAY_PORT", 3000),
            emulator_port=_env_port("HUB_EMULATOR_PORT", 8900),
            with_emulator=os.environ.get("HUB_EMULATOR", "1") != "0",
            seed_demo_data=os.environ.get("HUB_SEED", "1") != "0",
            default_user=os.environ.get("HUB_LOCAL_USER", "local-admin"),
            default_roles=os.environ.get("HUB_LOCAL_ROLES", "administrator"),
            log_level=os.environ.get("HUB_LOG_LEVEL", "INFO"),
            webhook_token=os.environ.get("HUB_WEBHOOK_TOKEN", "").strip() or None,
            salesforce_org_ids=os.environ.get("HUB_SALESFORCE_ORG_ID", "").strip() or None,
        )


# The demo data includes case settings, which only an administrator may write.
SEED_CALLER = {"X-Hub-User": "demo-seed", "X-Hub-Roles": "administrator"}


class LocalStack:
    """Start with start(), stop with stop(); or `with LocalStack(config).running() as stack:`."""

    def __init__(self, config: LocalStackConfig, doc: Template | None = None) -> None:
        self.config = config
        self.doc = doc or load_template(config.template_path)
        self.specs = function_specs(self.doc)  # read once; every step below works from it
        self.routes = api_routes(self.doc)
        self.functions: dict[str, LocalFunction] = {}
        self.sources: list[EventSource] = []
        self.schedules: dict[str, ScheduleEventSource] = {}
        self.bus = EventBus()
        self.webhook_token = config.webhook_token or secrets.token_urlsafe(32)
        self.published_events: list[dict[str, Any]] = []
        self.emulator: Any = None
        self.environment: dict[str, str] = {}
        self._moto: ServerThread | None = None
        self._gateway: ServerThread | None = None
        self.context: StackContext | None = None
        self._saved_environment: dict[str, str] | None = None

    # ------------------------------------------------------------------ URLs
    @property
    def aws_endpoint(self) -> str:
        return f"http://{HOST}:{self.config.moto_port}"

    @property
    def api_url(self) -> str:
        assert self._gateway is not None
        return f"http://{HOST}:{self._gateway.port}"

    # ------------------------------------------------------------------ lifecycle
    @contextmanager
    def running(self) -> Iterator[LocalStack]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def start(self) -> LocalStack:
        self._saved_environment = dict(os.environ)
        self._start_moto()
        session = boto3.Session(region_name=REGION)
        physical = create_stateful_resources(session, self.config.stack_name, self.doc)
        physical["WebhookTokenSecret"] = session.client("secretsmanager").create_secret(
            Name=f"{self.config.stack_name}/webhook-token", SecretString=self.webhook_token
        )["ARN"]
        overrides = self._start_emulator(session)
        org_ids = self.config.salesforce_org_ids or overrides.get("AllowedSalesforceOrgIds")
        if org_ids:
            overrides["AllowedSalesforceOrgIds"] = org_ids
        self.context = StackContext(self.doc, session, self.config.stack_name, physical, overrides, REGION)
        self._export_function_environment()
        self._load_functions()
        self._configure_outbound_fields(session)
        self._start_gateway()
        self._start_event_sources(session)
        if self.config.seed_demo_data:
            self._seed_demo_data()
        return self

    def stop(self) -> None:
        for source in self.sources:
            source.stop()
        self.bus.stop()
        if self.emulator is not None:
            self.emulator.stop()
        if self._gateway is not None:
            self._gateway.stop()
        if self._moto is not None:
            self._moto.stop()
        if self._saved_environment is not None:  # in-process users (tests) get their environment back
            os.environ.clear()
            os.environ.update(self._saved_environment)

    # ------------------------------------------------------------------ pieces
    def _start_moto(self) -> None:
        _require_free_port(self.config.moto_port, "HUB_MOTO_PORT")
        self._moto = start_moto_server(HOST, self.config.moto_port)
        self.config.moto_port = self._moto.port  # port 0 picks a free one
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": self.aws_endpoint,
            }
        )

    def _start_emulator(self, session: Any) -> dict[str, str]:
        """Start the Salesforce emulator and store its connection as the hub's Salesforce secret."""
        if not self.config.with_emulator:
            return {}
        from local.sf_emulator import EmulatorConfig, OutboundMessageConfig, start_emulator

        _require_free_port(self.config.emulator_port, "HUB_EMULATOR_PORT")
        gateway_port = self.config.gateway_port
        self.emulator = start_emulator(
            EmulatorConfig(
                host=HOST,
                port=self.config.emulator_port,
                outbound_messages=[
                    OutboundMessageConfig(
                        sobject=sobject,
                        fields=fields,
                        endpoint_url=f"http://{HOST}:{gateway_port}{OUTBOUND_PATH}/{self.webhook_token}",
                    )
                    for sobject, fields in OUTBOUND_FIELDS.items()
                ],
                cdc_sink=self._publish_change_event,
            )
        )
        secret = {
            "auth_flow": "client_credentials",
            "login_url": self.emulator.url,
            "client_id": "hub-client",
            "client_secret": "hub-secret",
        }
        arn = session.client("secretsmanager").create_secret(
            Name=f"{self.config.stack_name}/salesforce", SecretString=json.dumps(secret)
        )["ARN"]
        os.environ["SALESFORCE_CA_BUNDLE"] = self.emulator.ca_path
        # Event Relay's partner bus is named like the event source; salesforce_events' rule listens on it.
        return {
            "SalesforceSecretArn": arn,
            "AllowedSalesforceOrgIds": self.emulator.org_id,
            "SalesforceEventBusName": self.emulator.cdc.source(),
        }

    def _publish_change_event(self, event: dict[str, Any]) -> None:
        """Event Relay puts change events on the partner event bus named like their source."""
        self.published_events.append(event)
        self.bus.put_event(event, bus_name=str(event.get("source", "default")))

    def _export_function_environment(self) -> None:
        """Every function runs in this one process, so the union of their environments is exported."""
        assert self.context is not None
        for spec in self.specs.values():
            for name, value in self.context.environment(spec.environment).items():
                if self.environment.get(name, value) != value:
                    log.warning("%s differs between functions; %s gets %r", name, spec.logical_id, value)
                self.environment[name] = value
        os.environ.update(self.environment)
        # No X-Ray daemon or CloudWatch here: keep traces and EMF metrics out of the console.
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ["POWERTOOLS_LOG_LEVEL"] = self.config.log_level

    def _load_functions(self) -> None:
        """Layers' code goes on sys.path as Lambda puts it on /opt/python; handlers import lazily."""
        assert self.context is not None
        layers = layer_paths(self.doc)
        for spec in self.specs.values():
            for layer in spec.layers:
                path = str(layers[layer])
                if path not in sys.path:
                    sys.path.insert(0, path)
        for logical_id, spec in self.specs.items():
            self.functions[logical_id] = LocalFunction(spec, self.context.attribute(logical_id, "Arn"))

    def _configure_outbound_fields(self, session: Any) -> None:
        """Each entity's sync configuration lists the fields its outbound message sends (OUTBOUND_FIELDS), as an
        administrator would: the webhook then reads a listed field that is not sent as cleared."""
        if not self.config.with_emulator:
            return
        from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
        from sync_core.domain.entities import EntityName

        assert self.context is not None
        store = DynamoSyncConfigStore(
            session.client("dynamodb"), sync_config_table=self.context.physical["SyncConfigTable"]
        )
        for sobject, fields in OUTBOUND_FIELDS.items():
            config = store.get(EntityName(sobject))
            store.put(config.model_copy(update={"outbound_fields": list(fields)}))

    def _start_gateway(self) -> None:
        _require_free_port(self.config.gateway_port, "HUB_GATEWAY_PORT")
        gateway = LocalGateway(
            self.routes,
            self.functions,
            default_user=self.config.default_user,
            default_roles=self.config.default_roles,
            controls={
                "health": lambda request, rest: _json({"status": "ok", **self.endpoints()}),
                "events": self._events_control,
                "schedules": self._schedules_control,
                "queues": self._queues_control,
            },
        )
        self._gateway = ServerThread(
            gateway, HOST, self.config.gateway_port, request_handler=GatewayRequestHandler, name="gateway"
        ).start()
        self.config.gateway_port = self._gateway.port

    def _events_control(self, request: Request, rest: list[str]) -> Response:
        """GET: change events received from Salesforce; POST {"Entries": [...]}: PutEvents onto the local bus."""
        if request.method == "GET":
            return _json(self.published_events)
        entries = (request.get_json(silent=True) or {}).get("Entries")
        if not isinstance(entries, list):
            return _json({"message": 'expected {"Entries": [{"Source", "DetailType", "Detail", "EventBusName"}]}'}, 400)
        matched = 0
        for entry in entries:
            event = {
                "source": entry.get("Source", ""),
                "detail-type": entry.get("DetailType", ""),
                "detail": json.loads(entry.get("Detail") or "{}"),
                "resources": entry.get("Resources", []),
            }
            matched += self.bus.put_event(event, bus_name=entry.get("EventBusName", "default"))
        return _json({"FailedEntryCount": 0, "MatchedRules": matched})

    def _schedules_control(self, request: Request, rest: list[str]) -> Response:
        """GET: the schedules and when each fires next; POST /__local/schedules/<name>: fire it now."""
        if request.method == "GET" or not rest:
            return _json(
                {
                    name: {"expression": source.schedule.expression, "next_run": source.next_run.isoformat()}
                    for name, source in self.schedules.items()
                }
            )
        source = self.schedules.get(rest[0])
        if source is None:
            return _json({"message": f"no schedule {rest[0]}; known: {sorted(self.schedules)}"}, 404)
        result = source.fire()
        return _json({"schedule": rest[0], "result": result})

    def _queues_control(self, request: Request, rest: list[str]) -> Response:
        """GET: every queue of the template with its depth; POST /__local/queues/<logical id>: send the body
        (a sync `Change` as JSON) to it, with the FIFO group and deduplication ids the producers use."""
        assert self.context is not None
        sqs = self.context.session.client("sqs")
        queues = {
            name: url
            for name, url in self.context.physical.items()
            if self.doc["Resources"][name]["Type"] == "AWS::SQS::Queue"
        }
        if request.method == "GET" or not rest:
            depth = {}
            for name, url in sorted(queues.items()):
                attributes = sqs.get_queue_attributes(
                    QueueUrl=url,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
                depth[name] = {
                    "url": url,
                    "visible": int(attributes["ApproximateNumberOfMessages"]),
                    "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
                }
            return _json(depth)
        if rest[0] not in queues:
            return _json({"message": f"no queue {rest[0]}; known: {sorted(queues)}"}, 404)
        from pydantic import ValidationError

        from sync_core.domain.sync.changes import Change

        try:
            change = Change.model_validate_json(request.get_data(as_text=True))
        except ValidationError as exc:
            return _json({"message": "the body is not a sync change", "errors": exc.errors(include_url=False)}, 400)
        message: dict[str, Any] = {"QueueUrl": queues[rest[0]], "MessageBody": change.model_dump_json()}
        if queues[rest[0]].endswith(".fifo"):
            message |= {"MessageGroupId": change.message_group_id, "MessageDeduplicationId": change.deduplication_id}
        sent = sqs.send_message(**message)
        return _json({"queue": rest[0], "message_id": sent["MessageId"], "change_id": change.change_id}, 202)

    def _start_event_sources(self, session: Any) -> None:
        assert self.context is not None
        sqs = session.client("sqs")
        streams = session.client("dynamodbstreams")
        for logical_id, spec in self.specs.items():
            function = self.functions[logical_id]
            for event in spec.events:
                props = event.properties
                if not self.context.resolve(props.get("Enabled", True)) or props.get("State") == "DISABLED":
                    continue
                reports = "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])
                name = f"{logical_id}{event.name}"
                if event.kind == "SQS":
                    queue_logical_id = props["Queue"]["Fn::GetAtt"][0]
                    self.sources.append(
                        SqsEventSource(
                            function,
                            sqs,
                            queue_url=self.context.physical[queue_logical_id],
                            queue_arn=str(self.context.resolve(props["Queue"])),
                            batch_size=int(props.get("BatchSize", 10)),
                            batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                            report_batch_item_failures=reports,
                        )
                    )
                elif event.kind == "DynamoDB":
                    on_failure = props.get("DestinationConfig", {}).get("OnFailure", {})
                    destination = None
                    if on_failure.get("Type") == "SQS":
                        destination = (sqs, self.context.physical[on_failure["Destination"]["Fn::GetAtt"][0]])
                    self.sources.append(
                        DynamoStreamEventSource(
                            function,
                            streams,
                            stream_arn=str(self.context.resolve(props["Stream"])),
                            batch_size=int(props.get("BatchSize", 100)),
                            starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
                            report_batch_item_failures=reports,
                            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                            on_failure=destination,
                        )
                    )
                elif event.kind in ("Schedule", "ScheduleV2"):
                    expression = props.get("Schedule") or props.get("ScheduleExpression")
                    schedule = ScheduleEventSource(
                        function,
                        parse_schedule(str(self.context.resolve(expression))),
                        rule_name=name,
                        input_json=self.context.resolve(props.get("Input")),
                    )
                    self.schedules[name] = schedule
                    self.sources.append(schedule)
                elif event.kind in ("EventBridgeRule", "CloudWatchEvent"):
                    self.bus.rules.append(
                        EventRule(
                            name=name,
                            function=function,
                            pattern=EventPattern.load(json.dumps(self.context.resolve(props.get("Pattern", {})))),
                            input_json=self.context.resolve(props.get("Input")),
                            bus_name=str(self.context.resolve(props.get("EventBusName", "default"))),
                        )
                    )
                else:
                    log.warning("%s: event source type %s is not run locally", name, event.kind)
        self.bus.start()
        for source in self.sources:
            source.start()

    def _seed_demo_data(self) -> None:
        """A few records and case settings through the API itself, and a few accounts in the emulator."""
        import requests

        for method, path, body in DEMO_REQUESTS:
            answer = requests.request(
                method,
                f"{self.api_url}{path}",
                json=body,
                headers={"X-Hub-User": "demo-seed", "X-Hub-Roles": "administrator"},
                timeout=10,
            )
            if answer.status_code >= 300:
                log.warning("demo data %s %s refused: %s %s", method, path, answer.status_code, answer.text[:300])
        if self.emulator is not None:
            self.emulator.seed("Account", DEMO_SALESFORCE_ACCOUNTS)

    @property
    def webhook_url(self) -> str:
        """Where Salesforce's outbound messages go: the webhook's route with the secret token."""
        return f"{self.api_url}{OUTBOUND_PATH}/{self.webhook_token}"

    def endpoints(self) -> dict[str, str]:
        found = {"api": self.api_url, "aws": self.aws_endpoint, "salesforce_webhook": self.webhook_url}
        if self.emulator is not None:
            found |= {
                "salesforce": self.emulator.url,
                "salesforce_ca": self.emulator.ca_path,
                "salesforce_org_id": self.emulator.org_id,
            }
        return found

    def describe(self) -> str:
        """What is running where, for the console."""
        lines = [
            "Salesforce sync hub, local stack (Ctrl-C stops it)",
            f"  API gateway        {self.api_url}   "
            f"(X-Hub-User and X-Hub-Roles name the caller and its roles; "
            f"default {self.config.default_user}, {self.config.default_roles})",
            f"  AWS (moto server)  {self.aws_endpoint}   (account {ACCOUNT_ID}, region {REGION}, any credentials)",
        ]
        if self.emulator is not None:
            lines.append(
                f"  Salesforce         {self.emulator.url}   (org {self.emulator.org_id}, CA {self.emulator.ca_path})"
            )
        lines.append("  Routes:")
        lines += [f"    {route.method:6} {route.path:34} -> {route.function}" for route in self.routes]
        assert self.context is not None
        org_ids = self.context.resolve({"Ref": "AllowedSalesforceOrgIds"}) or "(none: every message is refused)"
        lines.append(f"  Outbound messages  {self.webhook_url}   (org ids {org_ids})")
        bus = self.context.resolve({"Ref": "SalesforceEventBusName"})
        lines.append(f"  Change events      EventBridge bus {bus}")
        lines.append("  Event sources:")
        lines += [f"    {source.name}" for source in self.sources] or ["    (none declared)"]
        lines += [f"    rule {rule.name} -> {rule.function.name}" for rule in self.bus.rules]
        lines.append("  Tables and queues:")
        assert self.context is not None
        lines += [f"    {name:22} {physical}" for name, physical in sorted(self.context.physical.items())]
        return "\n".join(lines)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, default=str), status=status, content_type="application/json")


# Outbound message definitions the emulator sends to the hub's webhook (fields as an admin would pick them);
# each lists SystemModstamp, as the README tells administrators to: it orders a record's states.
OUTBOUND_FIELDS: dict[str, list[str]] = {
    "Account": [
        "Id",
        "Name",
        "AccountNumber",
        "Industry",
        "Phone",
        "Website",
        "Hub_Id__c",
        "LastModifiedDate",
        "SystemModstamp",
    ],
    "Contact": [
        "Id",
        "AccountId",
        "FirstName",
        "LastName",
        "Email",
        "Phone",
        "Hub_Id__c",
        "LastModifiedDate",
        "SystemModstamp",
    ],
    "Case": [
        "Id",
        "CaseNumber",
        "AccountId",
        "ContactId",
        "Subject",
        "Description",
        "Status",
        "Hub_Status_Reason__c",  # a reason written with a status change is the reason the hub's action takes
        "ClosedDate",  # a case closed in Salesforce takes its closing date from here
        "Priority",
        "Origin",
        "Hub_Id__c",
        "SystemModstamp",
    ],
}

# Demo data, sent through the API as a user would (ids follow from the order: ACC-000001, CON-000001, ...).
DEMO_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/records/Account", {"name": "Van Dijk Logistics B.V.", "industry": "Transportation"}),
    ("POST", "/records/Account", {"name": "Nordlicht Maschinenbau GmbH", "industry": "Manufacturing"}),
    ("POST", "/records/Account", {"name": "Harbourside Dental Group", "industry": "Healthcare"}),
    (
        "POST",
        "/records/Contact",
        {"first_name": "Anouk", "last_name": "de Vries", "account_id": "ACC-000001", "email": "anouk@vandijk.example"},
    ),
    (
        "PUT",
        "/cases/settings/classes/SUPPORT",
        {
            "class_id": "SUPPORT",
            "billable": True,
            "allow_billable_override": True,
            "labor_rate": 90,
            "overtime_rate": 135,
            "round_time_minutes": 15,
            "resolution_hours": 48,
        },
    ),
    ("PUT", "/cases/settings/workgroups/L1", {"workgroup_id": "L1", "members": ["alice", "bob"]}),
]

DEMO_SALESFORCE_ACCOUNTS: list[dict[str, Any]] = [
    {"Name": "Acme Field Services", "Industry": "Energy", "Phone": "+1 415 555 0199"},
    {"Name": "Blue Fjord Seafood AS", "Industry": "Food & Beverage"},
]
