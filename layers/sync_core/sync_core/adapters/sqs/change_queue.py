"""Change queues on SQS: SendMessageBatch, 10 messages a call. The export queue is standard; the sync queue
is FIFO, so each message carries the change's group (one per record: its changes apply in order) and its
deduplication id (a redelivered change within SQS's five-minute window is dropped by SQS itself)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from sync_core.domain.sync.changes import Change
from sync_core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

BATCH_LIMIT = 10  # SendMessageBatch takes at most 10 entries
SEND_ATTEMPTS = 3


class SqsChangeQueue:
    def __init__(self, client: SQSClient, *, queue_url: str, fifo: bool = False) -> None:
        self._client = client
        self._queue_url = queue_url
        self._fifo = fifo

    def send(self, changes: Sequence[Change]) -> list[Change]:
        """Queue the changes; a refused entry (SendMessageBatch fails entries one by one) is sent again up to
        SEND_ATTEMPTS times. Returns those still refused."""
        pending = list(changes)
        for _ in range(SEND_ATTEMPTS):
            if not pending:
                break
            pending = [
                change
                for start in range(0, len(pending), BATCH_LIMIT)
                for change in self._send_batch(pending[start : start + BATCH_LIMIT])
            ]
        return pending

    def _entry(self, index: int, change: Change) -> SendMessageBatchRequestEntryTypeDef:
        entry: SendMessageBatchRequestEntryTypeDef = {"Id": str(index), "MessageBody": change.model_dump_json()}
        if self._fifo:
            entry["MessageGroupId"] = change.message_group_id
            entry["MessageDeduplicationId"] = change.deduplication_id
        return entry

    def _send_batch(self, chunk: list[Change]) -> list[Change]:
        entries = [self._entry(index, change) for index, change in enumerate(chunk)]
        try:
            answer = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("queue refused a batch", extra={"size": len(chunk), "error": str(exc), "fifo": self._fifo})
            return chunk
        refused = [chunk[int(refusal["Id"])] for refusal in answer.get("Failed", [])]
        for refusal in answer.get("Failed", []):
            logger.warning(
                "queue refused a message",
                extra={"change_id": chunk[int(refusal["Id"])].change_id, "code": refusal.get("Code")},
            )
        return refused
