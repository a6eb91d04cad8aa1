"""moto's SQS, made to scale for the export-burst benchmark (its DynamoDB transactions copy no tables since
local.moto_fixes, which the engine's harness installs).

SQS reads one queue setting (retention, content-based deduplication) through all of the queue's
attributes, counting its messages three times, for every message sent or received: a burst of 10,000 costs
10,000s of steps a message. Here the counts read 0 (nothing in the benchmark asks for a queue's depth) and a
receive reads the retention period itself. The benchmark's figure, Salesforce API calls, does not depend on
it; its wall time does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def faster_moto() -> Iterator[None]:
    from moto.core.utils import unix_time
    from moto.sqs.models import Queue, SQSBackend

    original_retention = SQSBackend.is_message_valid_based_on_retention_period
    counts = (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    )
    original_counts = {name: getattr(Queue, name) for name in counts}

    def retention_allows(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        return bool(int(queue.message_retention_period) + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = retention_allows  # type: ignore[method-assign]
    for name in counts:
        setattr(Queue, name, property(lambda _: 0))
    try:
        yield
    finally:
        SQSBackend.is_message_valid_based_on_retention_period = original_retention  # type: ignore[method-assign]
        for name, value in original_counts.items():
            setattr(Queue, name, value)
