"""A fix to moto's DynamoDB transactions, installed wherever the hub runs on moto (local stack, engine tests).

moto rolls back a failed TransactWriteItems by putting back a deep copy of every table it named
(moto.dynamodb.models.DynamoDBBackend.transact_write_items). That swap orphans the table's stream: every
open shard iterator still reads the old table's stream, so after one refused transaction (a lost
conditional write) a stream consumer never sees another write, which cannot happen in AWS. It also copies
whole tables on every transaction. Here the transaction saves the items it names and, if it fails, puts
them back (and drops the stream records it added) in the same tables: the same all-or-nothing outcome.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

_INSTALLED: list[bool] = []


def install_transaction_rollback_fix() -> None:
    """Patch moto once per process (idempotent)."""
    if _INSTALLED:
        return
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    # moto's own rollback copy becomes the table itself (nothing to swap back); everything else deep-copies.
    no_table_copies = SimpleNamespace(
        deepcopy=lambda value, memo=None: value if isinstance(value, Table) else copy.deepcopy(value, memo)
    )

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items:
            _, operation = next(iter(entry.items()))
            table = self.tables.get(operation.get("TableName"))
            key = operation.get("Key") or operation.get("Item")
            if table is None or not key or table.hash_key_attr not in key:
                continue  # moto refuses it itself
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            item = table.items.get(hash_key)
            if range_key is not None:
                item = item.get(range_key) if isinstance(item, dict) else None
            streamed = len(table.stream_shard.items) if table.stream_shard is not None else 0
            saved.append((table, hash_key, range_key, copy.deepcopy(item), streamed))
        setattr(dynamodb_models, "copy", no_table_copies)  # noqa: B010
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item, streamed in reversed(saved):
                if range_key is None:
                    holder, slot = table.items, hash_key
                else:
                    holder, slot = table.items.setdefault(hash_key, {}), range_key
                if item is None:
                    holder.pop(slot, None)
                else:
                    holder[slot] = item
                if table.stream_shard is not None:
                    del table.stream_shard.items[streamed:]
            raise
        finally:
            setattr(dynamodb_models, "copy", copy)  # noqa: B010

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _INSTALLED.append(True)
