"""Each admin act and its audit entry are one DynamoDB transaction: when the act loses
a race (its conditional write fails), no audit entry exists; when it lands, exactly one.
The races are made deterministic with a stale read instead of threads."""
import pytest

from chalicelib.chat.devices import service as devices
from chalicelib.chat.moderation import service as moderation
from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.platform.backups import service as backups
from chalicelib.platform.instances import service as instances
from chalicelib.platform.keys import service as keys
from chalicelib.platform.specs import service as specs
from chalicelib.store import specs as spec_store
from chalicelib.store.tables import ApiKey, AuditEntry, Backup, Device
from nacl.signing import SigningKey
from testing.specs import ORDER_SPEC
from tests.services.conftest import act


def entries(action):
    return [e for e in AuditEntry.scan() if e.action == action]


@pytest.fixture
def instance(store):
    answer, note = instances.create(act("instance_created"), "acme", "pro")
    assert note.written and len(entries("instance_created")) == 1
    return answer["id"]


def test_a_key_created_carries_its_entry(instance):
    created, note = keys.create(act("key_created"), instance, "backend", "write", "prod")
    assert note.written
    (entry,) = entries("key_created")
    assert entry.target == created["id"] and entry.details["prefix"] == created["prefix"]


def test_rotating_a_key_revoked_meanwhile_writes_nothing(instance, monkeypatch):
    created, _ = keys.create(act("key_created"), instance, "backend", "write", "prod")
    stale = keys.find(created["id"])
    keys.revoke(act("key_revoked"), created["id"])
    monkeypatch.setattr(keys, "find", lambda key_id: stale)   # read before the revocation
    with pytest.raises(AppError) as refused:
        keys.rotate(act("key_rotated"), created["id"], 0)
    assert refused.value.kind.name == "KEY_REVOKED"
    assert entries("key_rotated") == []
    assert [k.id for k in ApiKey.scan()] == [created["id"]]    # no new key either
    assert len(entries("key_revoked")) == 1


def test_revoking_twice_from_a_stale_read_audits_once(instance, monkeypatch):
    created, _ = keys.create(act("key_created"), instance, "backend", "write", "prod")
    stale = keys.find(created["id"])
    keys.revoke(act("key_revoked"), created["id"])
    monkeypatch.setattr(keys, "find", lambda key_id: stale)
    with pytest.raises(AppError) as refused:
        keys.revoke(act("key_revoked"), created["id"])
    assert refused.value.kind.name == "KEY_REVOKED"
    assert len(entries("key_revoked")) == 1


def test_a_deploy_that_loses_the_version_race_writes_no_entry(instance, monkeypatch):
    specs.deploy(act("spec_deployed"), instance, "prod", ORDER_SPEC, False)
    monkeypatch.setattr(spec_store, "latest", lambda instance_id, env: None)  # saw no v1
    with pytest.raises(AppError) as refused:
        specs.deploy(act("spec_deployed"), instance, "prod", ORDER_SPEC, False)
    assert refused.value.kind.name == "SPEC_DEPLOY_CONFLICT"
    assert [e.details["version"] for e in entries("spec_deployed")] == [1]


def test_a_verify_from_a_stale_read_is_decided_again_and_audits_once(store, monkeypatch):
    record, _ = devices.register(SigningKey.generate().verify_key.encode().hex())
    address = record["device_address"]
    stale = Device.get(address, consistent_read=True)
    moderation.verify(act("device_verified"), address, "known person")
    real_get, calls = Device.get, []

    def first_stale(*args, **kwargs):
        calls.append(args)
        return stale if len(calls) == 1 else real_get(*args, **kwargs)
    monkeypatch.setattr(Device, "get", first_stale)
    with pytest.raises(AppError) as refused:
        moderation.verify(act("device_verified"), address, "again")
    assert refused.value.kind.name == "DEVICE_ALREADY_VERIFIED"
    assert len(calls) == 2                       # the conflict made it read again
    assert len(entries("device_verified")) == 1


def test_a_federation_block_and_its_entry_land_together(store):
    answer, note = moderation.block_peer(act("federation_blocked"), "spam.example", "spam",
                                         None)
    assert answer["blocked"] and note.written
    with pytest.raises(AppError):
        moderation.block_peer(act("federation_blocked"), "spam.example", "again", None)
    assert [e.target for e in entries("federation_blocked")] == ["spam.example"]


def test_one_run_claims_a_pending_backup(instance):
    answer, note = backups.request_job(act("backup_requested"), instance, "prod")
    assert note.written and len(entries("backup_requested")) == 1
    item = Backup.get(f"{instance}#prod", answer["job_id"])
    twin = Backup.get(f"{instance}#prod", answer["job_id"])
    assert backups.claim(item, clock.now()) is True
    assert backups.claim(twin, clock.now()) is False   # a second run read it pending too
    assert Backup.get(f"{instance}#prod", answer["job_id"]).attempts == 1
