"""moto's server, made as atomic as DynamoDB: one DynamoDB write at a time, reads side by side.

moto serves each request on its own thread, but its DynamoDB backend takes no lock. A TransactWriteItems
checks its conditions and then writes, and a failed one restores a deep copy of every table it named
(moto.dynamodb.models.DynamoDBBackend.transact_write_items): two concurrent conditional writes can both
pass their check, and a failing transaction can undo writes other threads made meanwhile. DynamoDB makes
each write (and each transaction) all-or-nothing and isolated, so here every DynamoDB write runs alone,
and reads wait for it (GetItem and TransactGetItems never see half a transaction in DynamoDB either).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

from local.gateway import ServerThread
from local.moto_fixes import install_transaction_rollback_fix

DYNAMODB_TARGET = "DynamoDB_20120810."
STREAMS_TARGET = "DynamoDBStreams_20120810."
# Operations that only read the backend: they may run side by side. Every other DynamoDB operation
# (writes, transactions, PartiQL, table changes) runs alone.
DYNAMODB_READS = frozenset(
    {
        "BatchGetItem",
        "DescribeContinuousBackups",
        "DescribeEndpoints",
        "DescribeLimits",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "ListTables",
        "ListTagsOfResource",
        "Query",
        "Scan",
        "TransactGetItems",
    }
)


class ReadWriteLock:
    """Many readers or one writer. A waiting writer holds back new readers, so a steady stream of reads
    (stream pollers, list pages) never starves a write."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            self._condition.wait_for(lambda: not self._writing and not self._readers)
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


def dynamodb_operation(environ: dict[str, Any]) -> tuple[str, bool] | None:
    """(operation, is_read) of a DynamoDB or DynamoDB Streams request (JSON protocol: X-Amz-Target), else None."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target.startswith(DYNAMODB_TARGET):
        operation = target.removeprefix(DYNAMODB_TARGET)
        return operation, operation in DYNAMODB_READS
    if target.startswith(STREAMS_TARGET):  # stream records live in the tables: read them like items
        return target.removeprefix(STREAMS_TARGET), True
    return None


class SerialisedDynamoDB:
    """WSGI middleware over moto's app: DynamoDB writes one at a time, reads together; other services as is."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = ReadWriteLock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        operation = dynamodb_operation(environ)
        if operation is None:
            answer: Iterable[bytes] = self.app(environ, start_response)
            return answer
        _, is_read = operation
        with self.lock.reading() if is_read else self.lock.writing():
            # The backend works while the app is called; read the body out inside the lock all the same.
            answer = self.app(environ, start_response)
            try:
                return [b"".join(answer)]
            finally:
                close = getattr(answer, "close", None)
                if close is not None:  # WSGI: whoever iterates the answer closes it (Flask's teardown)
                    close()


def start_moto_server(host: str, port: int) -> ServerThread:
    """moto's server app (as moto.server.ThreadedMotoServer builds it) behind SerialisedDynamoDB, with its
    transactions' rollback fixed (local.moto_fixes: a refused transaction must not stop the records stream)."""
    install_transaction_rollback_fix()
    app = SerialisedDynamoDB(DomainDispatcherApplication(create_backend_app))
    return ServerThread(app, host, port, request_handler=MotoRequestHandler, name="moto").start()
