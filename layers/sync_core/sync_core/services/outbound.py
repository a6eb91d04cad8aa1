"""The outbound-message webhook: who may send, what the message says, and the answer Salesforce gets.

Salesforce cannot sign its requests, so a message is taken only with the secret token of the webhook's URL
(compared in constant time) and from an allowed org. Each notification becomes a change on the sync queue,
and the SOAP Ack is answered only once every change is queued: anything else (a fault, an error) makes
Salesforce deliver the message again, and a redelivery queues nothing new (the FIFO queue drops a change
it saw within five minutes by its deduplication id, made from the notification id; later, the worker's
stamp merge finds nothing newer to apply).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from sync_core.domain.sync.changes import Change
from sync_core.domain.sync.outbound import (
    OutboundMessageError,
    ack_response,
    fault_response,
    notification_change,
    parse_outbound_message,
)
from sync_core.ports.queues import ImportQueue
from sync_core.ports.secrets import SecretValue
from sync_core.ports.stores import Clock
from sync_core.services.sync_config import SyncConfigCache

ORG_ID_LENGTH = 15  # an 18-character org id is the 15-character one plus a case checksum


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: str  # a SOAP envelope: the Ack, or a fault
    queued: int = 0
    reason: str | None = None  # why it was not acknowledged (for the log; a 403 tells the sender nothing)
    action_id: str | None = None


def _forbidden(reason: str) -> WebhookAnswer:
    return WebhookAnswer(403, fault_response("forbidden"), reason=reason)


def _refused(reason: str) -> WebhookAnswer:
    return WebhookAnswer(400, fault_response(reason), reason=reason)


class OutboundMessageService:
    def __init__(
        self,
        *,
        queue: ImportQueue,
        configs: SyncConfigCache,
        token: SecretValue,
        allowed_org_ids: Sequence[str],
        clock: Clock,
    ) -> None:
        self._queue = queue
        self._configs = configs
        self._token = token
        self._allowed = {org_id.strip()[:ORG_ID_LENGTH] for org_id in allowed_org_ids if org_id.strip()}
        self._clock = clock

    def token_matches(self, candidate: str) -> bool:
        """Constant time: the comparison takes as long whichever character differs."""
        return hmac.compare_digest(candidate.encode(), self._token.value().encode())

    def receive(self, token: str, body: bytes) -> WebhookAnswer:
        if not self.token_matches(token):
            return _forbidden("wrong token in the webhook's path")
        try:
            message = parse_outbound_message(body)
        except OutboundMessageError as exc:
            return _refused(str(exc))
        if message.organization_id[:ORG_ID_LENGTH] not in self._allowed:
            return _forbidden(f"org {message.organization_id} is not in ALLOWED_ORG_IDS")
        received_at = self._clock.now()
        changes: list[Change] = []
        for notification in message.notifications:
            entity = self._configs.entity_of(notification.sobject)
            if entity is None:
                return _refused(f"no hub entity syncs {notification.sobject} (Salesforce delivers the message again)")
            try:
                changes.append(
                    notification_change(
                        notification,
                        entity,
                        configured_fields=self._configs.get(entity).outbound_fields,
                        received_at=received_at,
                    )
                )
            except ValueError as exc:  # OutboundMessageError, or a value the change model refuses
                return _refused(str(exc))
        refused = self._queue.send(changes)
        if refused:
            reason = f"{len(refused)} of {len(changes)} changes could not be queued"
            return WebhookAnswer(
                503,
                fault_response(reason, sender=False),
                len(changes) - len(refused),
                reason=f"{reason}; Salesforce delivers the message again",
                action_id=message.action_id,
            )
        return WebhookAnswer(200, ack_response(), len(changes), action_id=message.action_id)
