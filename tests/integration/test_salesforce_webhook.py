"""The outbound-message webhook through its handler, on moto: API Gateway's event in, SOAP out, changes on the
FIFO sync queue. Its DynamoDB calls are recorded and held to its role in template.yaml (least privilege)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from defusedxml import ElementTree

from local.sf_emulator.outbound import ack_failure
from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change
from sync_core.domain.sync.outbound import MAX_BODY_BYTES
from sync_core.domain.sync_config import EntitySyncConfig
from tests.conftest import FakeLambdaContext, load_event
from tests.integration.test_least_privilege import DynamoCallRecorder, _physical_tables
from tests.support.aws_stack import hub_aws_environment
from tools.template_info import dynamodb_grants

TOKEN = "Zr4kVq8pN2sLw6xT0bYc3mHd5gJf7aQe9uWiKoPl1nRt"
ORG_ID = "00D5e000002XzQkEAK"
FAULT = "{http://schemas.xmlsoap.org/soap/envelope/}Fault"


@dataclass
class Webhook:
    environment: dict[str, str]
    sqs: Any
    calls: DynamoCallRecorder

    def post(self, body: str | bytes, *, token: str = TOKEN, base64_encoded: bool = False) -> tuple[int, str]:
        from functions.salesforce_webhook import app

        event = load_event("salesforce_outbound_message")
        event["pathParameters"] = {"token": token}
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/salesforce/outbound/{token}"
        event["body"] = body if isinstance(body, str) else body.decode()
        event["isBase64Encoded"] = base64_encoded
        answer = app.lambda_handler(event, FakeLambdaContext())
        assert answer["headers"]["content-type"] == "text/xml; charset=utf-8"
        return answer["statusCode"], answer["body"]

    def queued(self) -> list[Change]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.environment["SYNC_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        count = int(attributes["ApproximateNumberOfMessages"])
        changes: list[Change] = []
        while len(changes) < count:
            messages = self.sqs.receive_message(
                QueueUrl=self.environment["SYNC_QUEUE_URL"], MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", [])
            if not messages:
                break
            changes += [Change.model_validate_json(message["Body"]) for message in messages]
        return changes

    def depth(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.environment["SYNC_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    from functions.salesforce_webhook import app
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore

    saved = dict(os.environ)
    with hub_aws_environment() as environment:
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="webhook-token", SecretString=TOKEN
        )["ARN"]
        os.environ.update({"WEBHOOK_TOKEN_SECRET_ARN": arn, "ALLOWED_ORG_IDS": f"00D000000000001AAA, {ORG_ID}"})
        app._service.cache_clear()
        DynamoSyncConfigStore(dynamodb_client(), sync_config_table=environment["SYNC_CONFIG_TABLE"]).put(
            EntitySyncConfig(
                entity=EntityName.ACCOUNT,
                outbound_fields=["Id", "Name", "Industry", "Phone", "LastModifiedDate", "SystemModstamp"],
            )
        )
        calls = DynamoCallRecorder(_physical_tables(environment))
        dynamodb_client().meta.events.register("provide-client-params.dynamodb.*", calls)
        try:
            yield Webhook(environment, boto3.client("sqs", region_name="us-east-1"), calls)
        finally:
            app._service.cache_clear()
            os.environ.clear()
            os.environ.update(saved)


def sample() -> str:
    return str(load_event("salesforce_outbound_message")["body"])


def fault(body: str) -> str:
    found = ElementTree.fromstring(body).find(f".//{FAULT}")
    assert found is not None, body
    return str(found.findtext("faultstring"))


def test_a_message_is_acknowledged_once_each_notification_is_a_change_on_the_sync_queue(webhook: Webhook) -> None:
    status, body = webhook.post(sample())
    assert status == 200
    assert ack_failure(body.encode()) is None  # what Salesforce takes as delivered
    changes = sorted(webhook.queued(), key=lambda change: change.change_id)
    assert [(c.entity, c.salesforce_id, c.change_id) for c in changes] == [
        (EntityName.ACCOUNT, "0015e00000MbQ9rAAF", "04l5e00000Ib3QsAAJ"),
        (EntityName.ACCOUNT, "0015e00000MbQ9sAAF", "04l5e00000Ib3QtAAJ"),
    ]
    first, second = changes
    assert first.values["Phone"] == "+31 10 555 0142" and first.cleared_fields == []
    assert second.cleared_fields == ["Industry", "Phone"]  # configured, not sent: null in Salesforce
    assert second.stamp.isoformat() == "2026-09-09T19:03:27+00:00"


def test_a_redelivered_message_queues_nothing_new(webhook: Webhook) -> None:
    assert webhook.post(sample())[0] == 200
    assert webhook.post(sample())[0] == 200  # Salesforce redelivers even after an Ack: ack it again
    assert webhook.depth() == 2


@pytest.mark.parametrize("token", ["", "wrong", TOKEN[:-1], TOKEN + "x", TOKEN.lower()])
def test_a_wrong_token_is_refused_with_403_and_queues_nothing(webhook: Webhook, token: str) -> None:
    status, body = webhook.post(sample(), token=token)
    assert (status, fault(body)) == (403, "forbidden")
    assert webhook.depth() == 0


def test_an_org_that_is_not_allowed_is_refused_with_403_and_queues_nothing(webhook: Webhook) -> None:
    status, body = webhook.post(sample().replace(ORG_ID, "00D5e000009ZzZzEAK"))
    assert (status, fault(body)) == (403, "forbidden")
    assert webhook.depth() == 0
    # The 15-character form of an allowed org is the same org.
    assert webhook.post(sample().replace(ORG_ID, ORG_ID[:15]))[0] == 200


def test_an_external_entity_or_an_entity_bomb_is_refused_with_400_and_queues_nothing(webhook: Webhook) -> None:
    declaration = '<?xml version="1.0" encoding="UTF-8"?>'
    for doctype in (
        '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        "<!DOCTYPE x [" + "".join(f'<!ENTITY e{n} "{f"&e{n - 1};" * 10}">' for n in range(1, 10)) + "]>",
    ):
        status, body = webhook.post(sample().replace(declaration, declaration + doctype))
        assert status == 400
        assert "DTDForbidden" in fault(body)
    assert webhook.depth() == 0


def test_unreadable_or_oversized_messages_and_unknown_objects_get_a_fault(webhook: Webhook) -> None:
    status, body = webhook.post("<html>not soap</html>")
    assert (status, fault(body)) == (400, "not a SOAP 1.1 envelope")
    status, body = webhook.post("x" * (MAX_BODY_BYTES + 1))
    assert status == 413
    status, body = webhook.post(sample().replace("sf:Account", "sf:Widget__c"))
    assert status == 400 and "no hub entity syncs Widget__c" in fault(body)
    assert webhook.depth() == 0


def test_a_base64_encoded_body_is_read_as_api_gateway_hands_it_over(webhook: Webhook) -> None:
    import base64

    assert webhook.post(base64.b64encode(sample().encode()).decode(), base64_encoded=True)[0] == 200
    assert webhook.depth() == 2


def test_when_the_queue_refuses_the_answer_is_an_error_so_salesforce_delivers_again(webhook: Webhook) -> None:
    from functions.salesforce_webhook import app

    os.environ["SYNC_QUEUE_URL"] = webhook.environment["SYNC_QUEUE_URL"] + "-gone.fifo"
    from sync_core.config import get_settings

    get_settings.cache_clear()
    app._service.cache_clear()
    status, body = webhook.post(sample())
    assert status == 503
    assert fault(body) == "2 of 2 changes could not be queued"
    assert ack_failure(body.encode()) is not None


def test_the_webhook_calls_dynamodb_only_as_its_role_allows(webhook: Webhook) -> None:
    webhook.post(sample())
    webhook.post(sample().replace("sf:Account", "sf:Widget__c"))  # every entity's configuration is looked at
    grants = dynamodb_grants("SalesforceWebhookFunction")
    outside = [access for access in webhook.calls.accesses if not any(grant.allows(*access) for grant in grants)]
    assert outside == []
    used = {(table, index, action) for table, index, action, _ in webhook.calls.accesses}
    assert {(grant.table, grant.index, action) for grant in grants for action in grant.actions} == used
