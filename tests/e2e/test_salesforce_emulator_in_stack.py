"""End to end: the local stack's Salesforce emulator, reached over HTTPS with the credentials the stack
stores for the functions; a change made in it reaches the hub's webhook URL as an outbound message and
the local event bus as a change event."""

from __future__ import annotations

import json
from typing import Any

import boto3
import requests
from defusedxml import ElementTree

from tests.e2e.conftest import RunningLocalStack
from tests.support.waiting import wait_until

OUTBOUND_NS = "{http://soap.sforce.com/2005/09/outbound}"


def salesforce_session(stack: RunningLocalStack) -> tuple[requests.Session, str]:
    """Log in the way the hub's functions do: the secret from (moto's) Secrets Manager, OAuth client credentials."""
    health = requests.get(f"{stack.api_url}/__local/health", timeout=10).json()
    secrets = boto3.client("secretsmanager", endpoint_url=stack.aws_endpoint, region_name="us-east-1")
    [arn] = [item["ARN"] for item in secrets.list_secrets()["SecretList"] if item["Name"].endswith("/salesforce")]
    secret = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE, when set, would override the emulator's CA
    session.verify = health["salesforce_ca"]
    token = session.post(
        f"{secret['login_url']}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": secret["client_id"],
            "client_secret": secret["client_secret"],
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return session, token.json()["instance_url"]


def test_a_change_in_salesforce_reaches_the_webhook_and_the_event_bus(local_stack: RunningLocalStack) -> None:
    session, instance_url = salesforce_session(local_stack)
    created = session.post(
        f"{instance_url}/services/data/v60.0/sobjects/Account",
        json={"Name": "Fjordline Freight AS", "Industry": "Transportation"},
        headers={"Sforce-Call-Options": "client=SomeOtherApp"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]

    def delivered() -> list[Any]:
        found = []
        for message in session.get(f"{instance_url}/__emulator/outbound", timeout=10).json()["deliveries"]:
            # Other tests' records reach the emulator too (the hub exports them); read only this one's.
            if account_id not in message["body"]:
                continue
            root = ElementTree.fromstring(message["body"])
            for notification in root.iter(f"{OUTBOUND_NS}Notification"):
                sobject = notification.find(f"{OUTBOUND_NS}sObject")
                if sobject is not None and any(child.text == account_id for child in sobject):
                    found.append((root, sobject))
        return found

    root, sobject = wait_until(delivered, timeout=60, interval=0.2, message="the outbound message")[0]
    fields = {child.tag.split("}")[1]: child.text for child in sobject}
    assert fields["Name"] == "Fjordline Freight AS"
    assert root.find(f".//{OUTBOUND_NS}OrganizationId") is not None

    def acknowledged() -> bool:
        """Salesforce retries anything but a SOAP notificationsResponse with Ack true: the webhook's answer is one."""
        deliveries = session.get(f"{instance_url}/__emulator/outbound", timeout=10).json()["deliveries"]
        return any(account_id in d["record_ids"] and d["ack"] for d in deliveries)

    wait_until(acknowledged, timeout=60, interval=0.2, message="the webhook's acknowledgement")

    def change_events() -> list[dict[str, Any]]:
        events = requests.get(f"{local_stack.api_url}/__local/events", timeout=10).json()
        return [event for event in events if account_id in event["detail"]["payload"]["ChangeEventHeader"]["recordIds"]]

    event = wait_until(change_events, timeout=60, interval=0.2, message="the change event")[0]
    header = event["detail"]["payload"]["ChangeEventHeader"]
    assert event["detail-type"] == "AccountChangeEvent"
    assert header["changeType"] == "CREATE"
    assert header["changeOrigin"].endswith("client=SomeOtherApp")
