"""A dead-letter queue read for a replay: messages received (and so hidden from others) a batch at a time,
deleted once they are back on their queue, or released (visible again) when they stay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sync_core.ports.sync_admin import DeadLetter

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH_LIMIT = 10
# How long a received message stays hidden while a replay decides about it (it is released or deleted before).
HIDDEN_SECONDS = 120


class SqsDeadLetterQueue:
    def __init__(self, client: SQSClient, *, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def receive(self, *, limit: int) -> list[DeadLetter]:
        # WaitTimeSeconds=1: a long poll asks every server, so an empty answer means the queue has none to show.
        answer = self._client.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=max(1, min(limit, BATCH_LIMIT)),
            VisibilityTimeout=HIDDEN_SECONDS,
            WaitTimeSeconds=1,
        )
        return [
            DeadLetter(message_id=message["MessageId"], body=message["Body"], receipt=message["ReceiptHandle"])
            for message in answer.get("Messages", [])
        ]

    def delete(self, letters: Sequence[DeadLetter]) -> None:
        for start in range(0, len(letters), BATCH_LIMIT):
            chunk = letters[start : start + BATCH_LIMIT]
            self._client.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(index), "ReceiptHandle": letter.receipt} for index, letter in enumerate(chunk)],
            )

    def release(self, letters: Sequence[DeadLetter]) -> None:
        for start in range(0, len(letters), BATCH_LIMIT):
            chunk = letters[start : start + BATCH_LIMIT]
            self._client.change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": letter.receipt, "VisibilityTimeout": 0}
                    for index, letter in enumerate(chunk)
                ],
            )
