"""moto's server, serving one request at a time.

moto checks a write's condition and applies it without a lock, so two requests served
in parallel threads can both pass `attribute_not_exists(...)` and one write is lost;
DynamoDB itself never does that. Serving requests one at a time gives the local stack
DynamoDB's atomicity for conditional writes and transactions.

moto also backs every TransactWriteItems up by deep-copying each table it touches, so a
transaction costs time in proportion to the tables' sizes (an append to a stream copies
every stored event); DynamoDB's cost does not grow so. The process `make run` starts
backs up only the items a transaction names (`cheap_transaction_rollback`), which is
all a rollback needs when requests are served one at a time.

`python -m local.moto_server --port N` runs it as a process of its own (what `make run`
does, so the embedded AWS can be paused or killed apart from the rest of the stack): it
prints one line once it listens, ignores Ctrl-C (the runner stops it last, after the
jobs that still use it), stops on SIGTERM, and exits when its parent does."""
from __future__ import annotations

import argparse
import copy
import os
import signal
import sys
import threading
import time

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

READY_LINE = "moto listening on"


class SerialMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._ip_address, self._port, app, threaded=False,
                                   request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def cheap_transaction_rollback() -> None:
    """Back up only the items each TransactWriteItems names, not whole tables (moto's
    own backup is a deep copy of every table touched). Only for a server that serves
    one request at a time: it swaps a module global of moto's for the call's duration."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "items_only", False):
        return

    class TablesUncopied:
        """`copy` as moto's module sees it: tables are not copied, anything else is."""
        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def backup(backend, transact_items) -> list:
        saved = []
        for entry in transact_items:
            try:
                _, op = next(iter(entry.items()))
                table = backend.tables.get(op.get("TableName"))
                if table is None:
                    continue
                source = op["Item"] if "Item" in op else op["Key"]
                hash_key = DynamoType(source[table.hash_key_attr])
                range_key = (DynamoType(source[table.range_key_attr])
                             if table.range_key_attr else None)
            except (AttributeError, KeyError, StopIteration, TypeError):
                continue  # malformed: moto refuses it before writing anything
            saved.append((table, hash_key, range_key,
                          copy.deepcopy(table.get_item(hash_key, range_key))))
        return saved

    def restore(saved: list) -> None:
        for table, hash_key, range_key, item in reversed(saved):
            if item is not None:
                if range_key is not None:
                    table.items[hash_key][range_key] = item
                else:
                    table.items[hash_key] = item
            elif range_key is not None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items.pop(hash_key, None)

    def transact_write_items(self, transact_items):
        saved = backup(self, transact_items)
        module_copy, models.copy = models.copy, TablesUncopied
        try:
            return original(self, transact_items)
        except BaseException:
            restore(saved)
            raise
        finally:
            models.copy = module_copy

    transact_write_items.items_only = True
    DynamoDBBackend.transact_write_items = transact_write_items


def _exit_with_parent(parent: int) -> None:
    """A runner killed with SIGKILL cannot stop us: leave when it is gone."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def main(argv: list[str] | None = None) -> int:
    import logging

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call is noise
    cheap_transaction_rollback()
    try:
        server = make_server(args.host, args.port, DomainDispatcherApplication(create_backend_app),
                             threaded=False, request_handler=MotoRequestHandler)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr, flush=True)
        return 2
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    print(f"{READY_LINE} http://{args.host}:{args.port} (pid {os.getpid()})", flush=True)
    while not stopped.wait(0.5):
        pass
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
