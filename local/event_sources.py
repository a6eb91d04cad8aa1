"""Event sources that call functions the way Lambda does: SQS and DynamoDB-stream mappings, schedules,
and an EventBridge bus whose rules match events with EventBridge's own pattern language (moto's matcher).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.events.models import EventPattern

from local.runtime import LocalFunction
from local.schedules import Schedule

log = logging.getLogger("local.events")

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


class EventSource:
    """A background thread feeding one function; stop() ends it within a poll interval."""

    name = "event source"

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:  # a broken source logs and backs off; it never takes the stack down
                log.exception("%s failed; retrying in 2 s", self.name)
                self._stopping.wait(2)

    def poll_once(self) -> None:
        raise NotImplementedError


def _batch_failures(result: Any) -> list[str] | None:
    """The item identifiers a handler reported as failed, or None when it reported nothing."""
    if not isinstance(result, dict) or "batchItemFailures" not in result:
        return None
    return [str(item.get("itemIdentifier")) for item in result["batchItemFailures"] or []]


class SqsEventSource(EventSource):
    """Lambda's SQS mapping: batches, ReportBatchItemFailures, and the queue's own redrive to its DLQ.

    Failed messages are not deleted; they come back after the visibility timeout, and moto moves a message
    to the dead-letter queue once its receive count passes maxReceiveCount, as SQS does.
    """

    def __init__(
        self,
        function: LocalFunction,
        sqs: Any,
        *,
        queue_url: str,
        queue_arn: str,
        batch_size: int = 10,
        batching_window_seconds: float = 0,
        report_batch_item_failures: bool = False,
        wait_seconds: int = 1,
    ) -> None:
        self.name = f"sqs:{queue_arn.rsplit(':', 1)[-1]}->{function.name}"
        super().__init__()
        self.function = function
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = batch_size
        self.batching_window_seconds = batching_window_seconds
        self.report_batch_item_failures = report_batch_item_failures
        self.wait_seconds = wait_seconds

    def poll_once(self) -> None:
        self.poll_batch()

    def poll_batch(self) -> tuple[int, list[dict[str, Any]]]:
        """One batch, if any is waiting: how many messages it held, and those that failed (still on the queue,
        back after the visibility timeout)."""
        messages = self._receive_batch()
        return len(messages), self.process(messages) if messages else []

    def _receive_batch(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.batching_window_seconds
        while len(messages) < self.batch_size and not self._stopping.is_set():
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=self.wait_seconds if not messages else 0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = answer.get("Messages", [])
            messages.extend(received)
            if not received or time.monotonic() >= deadline:
                break
        return messages

    def sqs_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {
                        name: {
                            "stringValue": value.get("StringValue"),
                            "binaryValue": value.get("BinaryValue"),
                            "stringListValues": [],
                            "binaryListValues": [],
                            "dataType": value["DataType"],
                        }
                        for name, value in message.get("MessageAttributes", {}).items()
                    },
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": REGION,
                }
                for message in messages
            ]
        }

    def process(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Invoke the function with the messages and delete those it processed; returns the others."""
        try:
            result = self.function.invoke(self.sqs_event(messages))
        except Exception:
            log.exception(
                "%s: invocation failed; %d message(s) return after the visibility timeout", self.name, len(messages)
            )
            return messages
        failed = _batch_failures(result) if self.report_batch_item_failures else None
        ids = {message["MessageId"] for message in messages}
        if failed and not set(failed) <= ids:
            log.error("%s: batchItemFailures names unknown ids %s; the whole batch is retried", self.name, failed)
            return messages
        done = [message for message in messages if message["MessageId"] not in set(failed or [])]
        if failed:
            log.warning("%s: %d of %d message(s) failed and will be retried", self.name, len(failed), len(messages))
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": item["ReceiptHandle"]} for index, item in enumerate(chunk)
                ],
            )
        return [message for message in messages if message["MessageId"] in set(failed or [])]


class DynamoStreamEventSource(EventSource):
    """Lambda's DynamoDB stream mapping: shard by shard, in order; a failed batch is retried from the first
    failed record (ReportBatchItemFailures) until MaximumRetryAttempts, then skipped with an error log and, with
    an on-failure destination (DestinationConfig.OnFailure, an SQS queue), a message describing what was
    skipped, as Lambda sends it."""

    def __init__(
        self,
        function: LocalFunction,
        streams: Any,
        *,
        stream_arn: str,
        batch_size: int = 100,
        starting_position: str = "TRIM_HORIZON",
        report_batch_item_failures: bool = False,
        maximum_retry_attempts: int = -1,
        poll_seconds: float = 0.5,
        retry_base_seconds: float = 0.5,  # back-off before retry n: base * 2**n, at most 30 s
        on_failure: tuple[Any, str] | None = None,  # (SQS client, queue URL)
    ) -> None:
        self.name = f"dynamodb-stream:{stream_arn.split('/')[1]}->{function.name}"
        super().__init__()
        self.function = function
        self.streams = streams
        self.stream_arn = stream_arn
        self.batch_size = batch_size
        self.starting_position = starting_position
        self.report_batch_item_failures = report_batch_item_failures
        self.maximum_retry_attempts = maximum_retry_attempts
        self.poll_seconds = poll_seconds
        self.on_failure = on_failure
        self.retry_base_seconds = retry_base_seconds
        self._iterators: dict[str, str] = {}
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._attempts: dict[str, int] = {}

    def start(self) -> None:
        # Position on the shards now, as creating the mapping does: with LATEST, the writes made after the
        # stack reports ready are delivered, however soon the polling thread first runs.
        self._open_shards()
        super().start()

    def _open_shards(self) -> list[str]:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=self.starting_position
                )["ShardIterator"]
        return [shard["ShardId"] for shard in shards]

    def poll_once(self) -> None:
        for shard_id in self._open_shards():
            self._poll_shard(shard_id)
        self._stopping.wait(self.poll_seconds)

    def _poll_shard(self, shard_id: str) -> None:
        pending = self._pending.get(shard_id, [])
        if not pending:
            answer = self.streams.get_records(ShardIterator=self._iterators[shard_id], Limit=self.batch_size)
            self._iterators[shard_id] = answer.get("NextShardIterator") or self._iterators[shard_id]
            pending = [self._lambda_record(record) for record in answer.get("Records", [])]
        if not pending:
            return
        batch, rest = pending[: self.batch_size], pending[self.batch_size :]
        retry_from = self._invoke(batch)
        if retry_from is None:
            self._attempts.pop(shard_id, None)
            self._pending[shard_id] = rest
            return
        attempts = self._attempts.get(shard_id, 0) + 1
        if 0 <= self.maximum_retry_attempts < attempts:
            log.error(
                "%s: giving up on %d record(s) from sequence %s after %d retries",
                self.name,
                len(batch) - retry_from,
                batch[retry_from]["dynamodb"]["SequenceNumber"],
                attempts - 1,
            )
            self._send_to_on_failure_destination(shard_id, batch[retry_from:], attempts)
            self._attempts.pop(shard_id, None)
            self._pending[shard_id] = rest
            return
        self._attempts[shard_id] = attempts
        self._pending[shard_id] = batch[retry_from:] + rest
        self._stopping.wait(min(30.0, self.retry_base_seconds * 2**attempts))

    def _send_to_on_failure_destination(self, shard_id: str, skipped: list[dict[str, Any]], attempts: int) -> None:
        """What Lambda sends an on-failure destination for a stream: where the skipped records are, not them."""
        if self.on_failure is None:
            return
        sqs, queue_url = self.on_failure
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in skipped]
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function.arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": sequence_numbers[0],
                "endSequenceNumber": sequence_numbers[-1],
                "batchSize": len(skipped),
                "streamArn": self.stream_arn,
            },
        }
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))

    def _invoke(self, batch: list[dict[str, Any]]) -> int | None:
        """None when the batch is done; else the index of the first record to retry."""
        try:
            result = self.function.invoke({"Records": batch})
        except Exception:
            log.exception("%s: invocation failed; the batch is retried", self.name)
            return 0
        failed = _batch_failures(result) if self.report_batch_item_failures else None
        if not failed:
            return None
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in batch]
        positions = [sequence_numbers.index(item) for item in failed if item in sequence_numbers]
        if len(positions) != len(failed):
            log.error("%s: batchItemFailures names unknown sequence numbers; the batch is retried", self.name)
            return 0
        return min(positions)

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion", REGION),
            "dynamodb": dynamodb,
            "eventSourceARN": self.stream_arn,
        }


Deliver = Callable[[LocalFunction, dict[str, Any]], None]


class ScheduleEventSource(EventSource):
    """An EventBridge schedule: the function gets the scheduled event (or the configured Input) on time."""

    def __init__(self, function: LocalFunction, schedule: Schedule, *, rule_name: str, input_json: str | None) -> None:
        self.name = f"schedule:{rule_name}->{function.name}"
        super().__init__()
        self.function = function
        self.schedule = schedule
        self.rule_name = rule_name
        self.input_json = input_json
        self.next_run = schedule.next_after(datetime.now(UTC))

    def event(self, moment: datetime) -> Any:
        if self.input_json is not None:
            return json.loads(self.input_json)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{self.rule_name}"],
            "detail": {},
        }

    def fire(self, moment: datetime | None = None) -> Any:
        return self.function.invoke(self.event(moment or datetime.now(UTC)))

    def poll_once(self) -> None:
        wait = (self.next_run - datetime.now(UTC)).total_seconds()
        if wait > 0:
            self._stopping.wait(min(wait, 1.0))
            return
        moment, self.next_run = self.next_run, self.schedule.next_after(self.next_run)
        try:
            self.fire(moment)
        except Exception:
            log.exception("%s failed at %s", self.name, moment.isoformat())


@dataclass
class EventRule:
    name: str
    function: LocalFunction
    pattern: EventPattern
    input_json: str | None = None
    bus_name: str = "default"


@dataclass
class EventBus:
    """PutEvents for the local stack: events matching a rule are delivered asynchronously to its function,
    retried twice on failure as Lambda's asynchronous invocation does, then logged as undeliverable."""

    rules: list[EventRule] = field(default_factory=list)
    retry_delays: tuple[float, ...] = (1.0, 2.0)
    delivered: list[dict[str, Any]] = field(default_factory=list)
    _queue: queue.Queue[tuple[EventRule, dict[str, Any]] | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._deliver_all, name="eventbridge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        if self._thread:
            self._thread.join(timeout=10)

    def put_event(self, event: dict[str, Any], bus_name: str = "default") -> int:
        """Complete an event as EventBridge does (id, time, account, region) and queue it for each matching rule."""
        full = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "account": ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [],
            "detail": {},
            **event,
        }
        matched = 0
        for rule in self.rules:
            # moto types the event as a TypedDict; this dict has the same keys.
            if rule.bus_name == bus_name and rule.pattern.matches_event(full):  # type: ignore[arg-type]
                self._queue.put((rule, full))
                matched += 1
        return matched

    def _deliver_all(self) -> None:
        while (item := self._queue.get()) is not None:
            rule, event = item
            payload = json.loads(rule.input_json) if rule.input_json is not None else event
            for attempt, delay in enumerate((0.0, *self.retry_delays)):
                time.sleep(delay)
                try:
                    rule.function.invoke(payload)
                    self.delivered.append({"rule": rule.name, "event_id": event["id"]})
                    break
                except Exception:
                    log.exception(
                        "rule %s: %s failed on event %s (attempt %d)",
                        rule.name,
                        rule.function.name,
                        event["id"],
                        attempt + 1,
                    )
            else:
                log.error("rule %s: event %s not delivered after %d attempts", rule.name, event["id"], attempt + 1)
