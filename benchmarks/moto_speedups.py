"""Two of moto's costs that grow with the data, removed for the export-burst benchmark (same outcomes):

- a DynamoDB transaction deep-copies every table it names, whole, to roll back on failure: with 10,000
  records each transaction copies 20,000 items. Here it saves and restores only the items it names (and the
  stream records it added), which is all a failed transaction can have changed;
- SQS reads one queue setting (retention, content-based deduplication) through all of the queue's
  attributes, counting its messages three times, for every message sent or received: a burst of 10,000
  costs 10,000s of steps a message. Here the counts read 0 (nothing in the benchmark asks for a queue's
  depth) and a receive reads the retention period itself.
The figure the benchmark reports, Salesforce API calls, does not depend on either; its wall time does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any


@contextmanager
def faster_moto() -> Iterator[None]:
    import moto.dynamodb.models as dynamodb_models
    from moto.core.utils import unix_time
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table
    from moto.sqs.models import Queue, SQSBackend

    original_transact = DynamoDBBackend.transact_write_items
    original_retention = SQSBackend.is_message_valid_based_on_retention_period
    counts = (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    )
    original_counts = {name: getattr(Queue, name) for name in counts}

    def deepcopy_but_tables(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items:
            _, operation = next(iter(entry.items()))
            table = self.tables.get(operation.get("TableName"))
            key = operation.get("Key") or operation.get("Item")
            if table is None or not key or table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            item = table.items.get(hash_key)
            if range_key is not None and isinstance(item, dict):
                item = item.get(range_key)
            streamed = len(table.stream_shard.items) if table.stream_shard is not None else 0
            saved.append((table, hash_key, range_key, copy.deepcopy(item), streamed))
        setattr(dynamodb_models, "copy", SimpleNamespace(deepcopy=deepcopy_but_tables))  # noqa: B010
        try:
            original_transact(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item, streamed in reversed(saved):
                holder = table.items.setdefault(hash_key, {}) if range_key is not None else table.items
                slot = range_key if range_key is not None else hash_key
                if item is None:
                    holder.pop(slot, None)
                else:
                    holder[slot] = item
                if table.stream_shard is not None:
                    del table.stream_shard.items[streamed:]
            raise
        finally:
            setattr(dynamodb_models, "copy", copy)  # noqa: B010

    def retention_allows(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        return bool(int(queue.message_retention_period) + message.sent_timestamp / 1000 > unix_time())

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = retention_allows  # type: ignore[method-assign]
    for name in counts:
        setattr(Queue, name, property(lambda _: 0))
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original_transact  # type: ignore[method-assign]
        SQSBackend.is_message_valid_based_on_retention_period = original_retention  # type: ignore[method-assign]
        for name, value in original_counts.items():
            setattr(Queue, name, value)
