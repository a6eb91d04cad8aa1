"""The local stack's moto server is as atomic as DynamoDB when many clients write at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.aws_server import ReadWriteLock, dynamodb_operation, start_moto_server
from local.gateway import ServerThread
from local.stack import HOST

WRITERS = 50


@pytest.fixture(scope="module")
def moto() -> Iterator[ServerThread]:
    server = start_moto_server(HOST, 0)
    try:
        yield server
    finally:
        server.stop()


def _client(server: ServerThread) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://{HOST}:{server.port}",
        region_name="us-east-1",
        # One connection per writer, and no retries: every refusal counts.
        config=Config(max_pool_connections=WRITERS + 10, retries={"max_attempts": 1}),
    )


def _table(client: Any) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _fill(client: Any, table: str, count: int) -> None:
    """A table of some size: moto copies every table a transaction names, so a copy takes a while."""
    for start in range(0, count, 25):
        client.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"pk": {"S": f"filler-{n}"}, "data": {"S": "x" * 200}}}}
                    for n in range(start, min(count, start + 25))
                ]
            }
        )


def _all_at_once(tasks: list[Callable[[], Any]]) -> list[Any]:
    """Run the tasks on their own threads, released together."""
    start = threading.Barrier(len(tasks))

    def run(task: Callable[[], Any]) -> Any:
        start.wait()
        return task()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        return list(pool.map(run, tasks))


def test_of_fifty_conditional_transactions_on_one_version_exactly_one_is_kept_whole(moto: ServerThread) -> None:
    client = _client(moto)
    records, states = _table(client), _table(client)
    _fill(client, records, 500)
    client.put_item(TableName=records, Item={"pk": {"S": "record"}, "version": {"N": "1"}})

    def write(writer: int) -> Callable[[], bool]:
        def attempt() -> bool:
            try:
                client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": records,
                                "Item": {"pk": {"S": "record"}, "version": {"N": "2"}, "writer": {"N": str(writer)}},
                                "ConditionExpression": "version = :read",
                                "ExpressionAttributeValues": {":read": {"N": "1"}},
                            }
                        },
                        {"Put": {"TableName": states, "Item": {"pk": {"S": f"state-{writer}"}}}},
                    ]
                )
            except ClientError as error:
                assert error.response["Error"]["Code"] == "TransactionCanceledException"
                return False
            return True

        return attempt

    acknowledged = [writer for writer, ok in enumerate(_all_at_once([write(n) for n in range(WRITERS)])) if ok]
    assert len(acknowledged) == 1
    kept = client.get_item(TableName=records, Key={"pk": {"S": "record"}}, ConsistentRead=True)["Item"]
    assert kept["writer"] == {"N": str(acknowledged[0])}
    assert [item["pk"]["S"] for item in client.scan(TableName=states)["Items"]] == [f"state-{acknowledged[0]}"]


def test_a_failed_transaction_never_undoes_what_others_wrote_meanwhile(moto: ServerThread) -> None:
    """moto restores a copy of the tables a failed transaction named; writes made meanwhile must survive."""
    client = _client(moto)
    table = _table(client)
    _fill(client, table, 1000)

    def put(number: int) -> Callable[[], None]:
        return lambda: client.put_item(TableName=table, Item={"pk": {"S": f"new-{number}"}})

    def failing_check() -> None:
        with pytest.raises(ClientError, match="TransactionCanceled"):
            client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": {"pk": {"S": "absent"}},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    }
                ]
            )

    for round_number in range(3):
        numbers = range(round_number * 20, (round_number + 1) * 20)
        _all_at_once([task for number in numbers for task in (put(number), failing_check)])
        missing = [
            number
            for number in numbers
            if "Item" not in client.get_item(TableName=table, Key={"pk": {"S": f"new-{number}"}}, ConsistentRead=True)
        ]
        assert missing == [], f"acknowledged puts lost in round {round_number}"


def test_only_dynamodb_requests_are_ordered_and_reads_are_told_from_writes() -> None:
    assert dynamodb_operation({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Query"}) == ("Query", True)
    assert dynamodb_operation({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.TransactWriteItems"}) == (
        "TransactWriteItems",
        False,
    )
    assert dynamodb_operation({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.ExecuteStatement"}) == (
        "ExecuteStatement",
        False,
    )
    assert dynamodb_operation({"HTTP_X_AMZ_TARGET": "DynamoDBStreams_20120810.GetRecords"}) == ("GetRecords", True)
    assert dynamodb_operation({"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage"}) is None
    assert dynamodb_operation({}) is None


def test_reads_share_the_lock_and_a_write_waits_for_them() -> None:
    lock = ReadWriteLock()
    second_read_done, write_done = threading.Event(), threading.Event()

    def second_read() -> None:
        with lock.reading():
            second_read_done.set()

    def write() -> None:
        with lock.writing():
            write_done.set()

    with lock.reading():
        threading.Thread(target=second_read).start()
        assert second_read_done.wait(timeout=10), "a read waited for another read"
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=0.2)
        assert not write_done.is_set(), "a write ran while a read held the lock"
    assert write_done.wait(timeout=10)


def test_a_refused_transaction_rolls_back_and_the_tables_stream_keeps_delivering(moto: ServerThread) -> None:
    """moto alone swaps in a copy of the table on a refused transaction, orphaning open stream iterators."""
    dynamodb = _client(moto)
    table = f"streamed-{uuid.uuid4().hex[:8]}"
    created = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    streams = boto3.client("dynamodbstreams", endpoint_url=f"http://{HOST}:{moto.port}", region_name="us-east-1")
    arn = created["TableDescription"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "taken"}})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "half"}}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "taken"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "after"}})

    records = streams.get_records(ShardIterator=iterator)["Records"]

    assert [record["dynamodb"]["Keys"]["pk"]["S"] for record in records] == ["taken", "after"]
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": "half"}})
