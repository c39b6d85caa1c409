"""Concurrent writers on one aggregate, in threads against moto's server: nothing lost,
nothing duplicated, chain and Merkle tree intact."""
import os
import socket
import threading

import pytest

from chalicelib.core import caches, clock, settings
from chalicelib.domain import events as ev
from chalicelib.domain import merkle
from chalicelib.identity import audit
from chalicelib.identity.api_keys import VerifiedKey
from chalicelib.identity.principal import Principal
from chalicelib.platform.events import service as event_store
from chalicelib.platform.integrity import service as integrity
from chalicelib.platform.specs import service as specs
from chalicelib.store import aws
from chalicelib.store.base import rebind
from chalicelib.store.keys import stream_key
from chalicelib.store.provision import provision
from chalicelib.store.tables import TABLES, Instance, StoredEvent
from testing.specs import ORDER_SPEC

WRITERS = 6
EACH = 8
ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto_server():
    from local.moto_server import SerialMotoServer
    port = free_port()
    server = SerialMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    settings.reset()
    aws.reset()
    rebind(TABLES)
    caches.clear_all()
    provision()
    try:
        yield
    finally:
        server.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)
        settings.reset()
        aws.reset()
        rebind(TABLES)
        caches.clear_all()


def test_concurrent_writers_lose_nothing(moto_server):
    inst = clock.new_id("inst-")  # moto's state is per process: a stream of our own
    Instance(id=inst, name="acme", plan="free", tier="shared", created_at=0, created_by="t").save()
    operator = Principal(subject="t", kind="operator", permissions=("all",))
    specs.deploy(audit.Act(operator, "spec_deployed"), inst, "prod", ORDER_SPEC, False)
    key = VerifiedKey(id="k", instance_id=inst, environment="prod", scope="write")
    event_store.append(key, "order", "0RDER0001", [{"event_type": "created", "data": {"customer": "C00000000"},
                                             "metadata": ACTOR}], None, None, "seed")
    errors = []

    def writer(n):
        for i in range(EACH):
            try:  # no previous_length: a lost race is the service's to retry, never ours
                event_store.append(key, "order", "0RDER0001", [{
                    "event_type": "item_added", "data": {"sku": f"w{n}-{i}", "qty": 1},
                    "metadata": ACTOR}], None, None, f"{n}-{i}")
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
                return

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    total = 1 + WRITERS * EACH
    stream = stream_key(inst, "prod", "order", "0RDER0001")
    stored = sorted(StoredEvent.query(stream, consistent_read=True), key=lambda e: e.position)
    assert [e.position for e in stored] == list(range(total))
    skus = [e.data["sku"] for e in stored[1:]]
    assert sorted(skus) == sorted(f"w{n}-{i}" for n in range(WRITERS) for i in range(EACH))
    state = event_store.read(key, "order", "0RDER0001")
    assert state["data"]["count"] == WRITERS * EACH and state["metadata"]["length"] == total
    assert integrity.verify_chain(stream, "order", "0RDER0001")["valid"] is True
    leaves = [ev.leaf("order", "0RDER0001", e.position, bytes.fromhex(e.content_hash)) for e in stored]
    root = integrity.merkle_root(stream, "order", "0RDER0001")
    assert root["root_hex"] == merkle.root(leaves).hex()
