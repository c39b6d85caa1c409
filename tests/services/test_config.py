"""The server config service under concurrent writers: no update is ever lost."""
import threading

from chalicelib.chat.config import service as server_config
from chalicelib.identity import audit
from chalicelib.identity.principal import Principal
from chalicelib.store import server_config as config_store
from chalicelib.store.tables import AuditEntry, MetaItem


def test_concurrent_patches_lose_nothing(store, monkeypatch):
    """Two writers on different fields, interleaved at the worst moment: both changes land."""
    actor = Principal(subject="t", kind="operator", permissions=("all",))
    original_load = config_store.load
    barrier = threading.Barrier(2, timeout=120)
    calls = {"n": 0}

    def racing_load():
        result = original_load()
        calls["n"] += 1
        if calls["n"] <= 2:
            barrier.wait()  # both read the same version before either writes
        return result
    monkeypatch.setattr(config_store, "load", racing_load)
    failures = []

    def update(patch):
        try:
            server_config.update(audit.Act(actor, "config_updated"), patch)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
    threads = [threading.Thread(target=update, args=(patch,)) for patch in
               ({"storage": {"message_queue_limit": 1500}},
                {"registration": {"time_delay_seconds": 120}})]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.setattr(config_store, "load", original_load)
    assert not failures, failures
    config = server_config.current()
    assert config["storage"]["message_queue_limit"] == 1500
    assert config["registration"]["time_delay_seconds"] == 120
    assert MetaItem.get("server_config").version == 2


def test_a_lost_version_race_writes_no_audit_entry(store, monkeypatch):
    """The new version and its audit entry are one transaction: the writer that loses the
    version race retries on the new version, and exactly one entry exists per landed
    update."""
    first = server_config.update(audit.Act(Principal(subject="a", kind="operator"),
                                           "config_updated"),
                                 {"storage": {"message_queue_limit": 1200}})
    assert first[1].written
    stale = config_store.load()
    monkeypatch.setattr(config_store, "load", lambda: (stale[0], 0))  # sees the defaults
    try:
        server_config.update(audit.Act(Principal(subject="b", kind="operator"),
                                       "config_updated"),
                             {"storage": {"message_queue_limit": 1300}})
    except Exception as exc:  # noqa: BLE001 - the loser may give up; it must write nothing
        assert getattr(exc, "kind", None) is not None and exc.kind.name == "CONFIG_CONFLICT"
    entries = [e for e in AuditEntry.scan() if e.action == "config_updated"]
    assert [e.admin for e in entries] == ["a"]
    assert MetaItem.get("server_config").version == 1
