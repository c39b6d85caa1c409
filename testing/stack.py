"""A bootstrapped control plane inside moto, driven through chalice.test.Client, and
helpers to call it as an operator, an admin device or a worker node."""
import contextlib
import json
import os

from nacl.signing import SigningKey

from chalicelib.core import caches, clock, settings
from chalicelib.domain import admin_list
from chalicelib.identity import admin_list as admins

NODE_SECRET = "test-node-secret"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
# the device login test vector: Ed25519 seed bytes 0..31
VECTOR_SEED = bytes(range(32))
VECTOR_ADDRESS = "40bca4eaf9d2b097ff8dbaa4d61767ed@chat.example.com"


class Answer:
    def __init__(self, raw):
        self.status = raw.status_code
        self.headers = raw.headers
        self.text = raw.body.decode() if isinstance(raw.body, bytes) else raw.body
        try:
            self.json = json.loads(self.text) if self.text else None
        except ValueError:
            self.json = None
        self.trace = self._stored_trace()

    def _stored_trace(self):
        """For a 5xx, the stack trace the server stored under its error_id (debug aid)."""
        error_id = (self.json or {}).get("error_id") if isinstance(self.json, dict) else None
        if self.status < 500 or not error_id:
            return None
        from chalicelib.store.tables import ErrorRecord
        try:
            return ErrorRecord.get(error_id).stack_trace
        except ErrorRecord.DoesNotExist:
            return None

    def __repr__(self):
        return f"<{self.status} {self.text[:300]}>" + (f"\n{self.trace}" if self.trace else "")


class Stack:
    """A bootstrapped control plane and helpers to call it."""

    def __init__(self, client):
        self.client = client
        self.admin_key = SigningKey(VECTOR_SEED)

    def call(self, method, path, token=None, body=None, headers=None, raw_body=None):
        hdrs = {"Content-Type": "application/json", "User-Agent": "pytest/1.0"}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        hdrs.update(headers or {})
        data = raw_body if raw_body is not None else (json.dumps(body) if body is not None else "")
        answer = Answer(self.client.http.request(method, path, headers=hdrs, body=data.encode()
                                                 if isinstance(data, str) else data))
        check_declared_answer(method, path, answer)
        return answer

    def node(self, method, path, body=None, secret=NODE_SECRET):
        return self.call(method, path, body=body, headers={"X-Node-Secret": secret})

    def operator_token(self):
        answer = self.call("POST", "/api/login",
                           body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert answer.status == 200, answer
        return answer.json["admin_token"]

    def register_device(self, key: SigningKey):
        answer = self.node("POST", "/internal/devices",
                           body={"public_key": key.verify_key.encode().hex()})
        assert answer.status in (200, 201), answer
        return answer.json["device_address"]

    def set_admins(self, mapping):
        path = settings.get().server_config_file
        with open(path, "w") as fh:
            fh.write(admin_list.render(mapping))
        admins.forget()

    def device_login(self, key: SigningKey, address: str):
        ch = self.call("GET", "/admin/v1/auth/challenge").json["challenge"]
        sig = key.sign(ch.encode()).signature.hex()
        return self.call("POST", "/admin/v1/auth", body={
            "device_address": address, "challenge": ch, "challenge_signature": sig,
            "timestamp": clock.now_int()})

    def token_with(self, permissions):
        """A device admin holding exactly `permissions`."""
        key = SigningKey.generate()
        address = self.register_device(key)
        current = admins.device_admins()
        self.set_admins({**current, address: list(permissions)})
        answer = self.device_login(key, address)
        assert answer.status == 200, answer
        return answer.json["admin_token"]


def declared_route(method: str, path: str):
    """The declaration serving `method path` (a concrete path, query allowed): the most
    literal match, as API Gateway routes literal segments before variables."""
    from chalicelib.http.declarations import ROUTES
    bare = path.split("?", 1)[0]
    matches = [r for r in ROUTES if r.method == method and r.pattern.match(bare)]
    return min(matches, key=lambda r: len(r.path_params)) if matches else None


def check_declared_answer(method: str, path: str, answer: Answer) -> None:
    """Every JSON answer a test sees must be one its route declares: a success matches
    the declared schema, an error is one of the declared kinds. What the OpenAPI
    document publishes is checked by every API test."""
    from chalicelib.domain import json_schema
    if answer.json is None:
        return
    if not (answer.headers.get("Content-Type") or "").startswith("application/json"):
        return
    spec = declared_route(method, path)
    if spec is None:
        return
    if answer.status >= 400 and answer.status not in spec.statuses:
        if isinstance(answer.json, dict):
            kind = answer.json.get("code" if spec.surface == "data" else "error")
            assert kind in spec.answers(), (f"{method} {spec.path} answered {answer.status} "
                                            f"{kind}, which it does not declare")
        return
    if spec.response is None or not (200 <= answer.status < 300
                                     or answer.status in spec.statuses):
        return
    problems = json_schema.problems(spec.response, answer.json)
    assert not problems, (f"{method} {spec.path} answered outside its declared schema: "
                          f"{problems[:5]}\n{answer.text[:500]}")


def empty_everything() -> None:
    """Empty every table and bucket; re-create any a test deleted."""
    from chalicelib.store.provision import provision
    try:
        _empty_all()
    except Exception:  # noqa: BLE001 - a table or bucket is missing: make it again
        provision()
        _empty_all()


def _empty_all() -> None:
    from chalicelib.store import aws
    from chalicelib.store.buckets import BUCKETS, bucket_name
    from chalicelib.store.tables import TABLES
    for model in TABLES:
        with model.batch_write() as batch:
            for item in model.scan():
                batch.delete(item)
    s3 = aws.client("s3")
    for logical in BUCKETS:
        for obj in s3.list_objects_v2(Bucket=bucket_name(logical)).get("Contents", []):
            s3.delete_object(Bucket=bucket_name(logical), Key=obj["Key"])
    from chalicelib.store import queues
    sqs = aws.client("sqs")   # PurgeQueue is allowed once a minute: receive and delete
    for name in [queues.queue_name(q) for q in queues.QUEUES] + [
            queues.dead_letter_name(q) for q in queues.QUEUES]:
        url = queues.queue_url(name)
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=0).get("Messages", []):
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    _drop_delayed_messages()


def _drop_delayed_messages() -> None:
    """Messages still delayed (a delivery retry, a saga timeout) cannot be received yet,
    and PurgeQueue is allowed once a minute: in the in-process mock, drop them from
    moto's queues so no test meets an earlier test's timer."""
    from chalicelib.core import settings
    if settings.get().endpoint_url:
        return   # moto's server in another process: its own per-run queues
    from moto.sqs.models import sqs_backends
    for regions in sqs_backends.values():
        for backend in regions.values():
            for queue in backend.queues.values():
                with queue._messages_lock:
                    queue._messages = []
                    queue._pending_messages = set()


@contextlib.contextmanager
def bootstrapped():
    """A clean, bootstrapped stack on the AWS endpoint already in place (moto's mock or
    server): caches and clock reset, tables and buckets emptied, bootstrap run."""
    from chalice.test import Client

    import app as app_module
    from chalicelib import bootstrap
    from local import gateway
    gateway.apply()

    clock.reset()
    path = settings.get().server_config_file
    if os.path.exists(path):
        os.remove(path)
    caches.clear_all()
    empty_everything()
    bootstrap.run(ADMIN_EMAIL, ADMIN_PASSWORD, SigningKey(VECTOR_SEED).verify_key.encode().hex(),
                  NODE_SECRET)
    with Client(app_module.app) as client:
        yield Stack(client)
    caches.clear_all()
    clock.reset()


@contextlib.contextmanager
def mocked_aws():
    """moto's in-process mock with every table and bucket created."""
    from moto import mock_aws

    from chalicelib.store import aws
    from chalicelib.store.base import rebind
    from chalicelib.store.provision import provision
    from chalicelib.store.tables import TABLES
    settings.reset()
    aws.reset()
    with mock_aws():
        rebind(TABLES)
        provision()
        yield
