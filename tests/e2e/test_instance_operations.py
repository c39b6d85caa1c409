"""Instance operations over HTTP against the `make run` stack, with jobs run by its own
queue consumer: a JSON Lines file imported through a presigned upload, a checkpoint and
a root checkpoint, a backup restored into staging, and the exports compared."""
from __future__ import annotations

import json
import time

import pytest
import requests

from testing.e2e import NODE_SECRET, instance_with_writer, running_stack

ACTOR = {"type": "user", "id": "AGENT0001"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("instance-ops")) as running:
        yield running


def wait_job(stack, auth, status_url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(stack.url + status_url, headers=auth, timeout=30).json()
        if job["status"] in ("completed", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"the job did not finish within {timeout} s: {job}")


def export(stack, inst, env):
    text, cursor = "", None
    while True:
        answer = requests.get(stack.url + f"/internal/instances/{inst}/{env}/export",
                              params={"cursor": cursor} if cursor else None,
                              headers={"X-Node-Secret": NODE_SECRET}, timeout=30)
        assert answer.status_code == 200, answer.text
        text += answer.text
        cursor = answer.headers.get("X-Next-Cursor")
        if not cursor:
            return text


def history(orders=40, items=49):
    """Export-shaped lines of orders created and filled an hour ago: 2,000 events, about
    420 KB, so the loader reads the file in several blocks while it writes."""
    out, start = [], time.time() - 3600
    for n in range(orders):
        agg = f"0RDER{n:04d}"
        rows = [("created", {"customer": f"C{n:08d}", "total": n})] + [
            ("item_added", {"sku": f"S{i}", "qty": i + 1}) for i in range(items)]
        for position, (event_type, data) in enumerate(rows):
            out.append({"aggregate_type": "order", "aggregate_id": agg, "event_type": event_type,
                        "data": data, "metadata": {"actor": ACTOR}, "position": position,
                        "created_at": round(start + n + position / 1000, 3)})
    return "".join(json.dumps(line) + "\n" for line in out)


def test_import_checkpoint_backup_restore_export(stack):
    token, inst, _key = instance_with_writer(stack.url, "ops")
    auth = {"Authorization": f"Bearer {token}"}
    ops = f"{stack.url}/api/instances/{inst}/ops/prod"

    upload = requests.post(ops + "/import_jsonl/uploads", headers=auth, timeout=30)
    assert upload.status_code == 201, upload.text
    put = requests.put(upload.json()["url"], data=history().encode(),
                       headers=upload.json()["headers"], timeout=30)
    assert put.status_code == 200, put.text
    started = time.monotonic()
    requested = requests.post(ops + "/import_jsonl", headers=auth, timeout=30,
                              json={"upload_id": upload.json()["upload_id"]})
    assert requested.status_code == 202, requested.text
    job = wait_job(stack, auth, requested.json()["status_url"])
    assert job["status"] == "completed", job
    assert time.monotonic() - started < 120    # started by the queue, not a 5-minute tick
    assert job["result"]["applied"] == 2_000 and job["progress"]["done"] == 2_000
    source = export(stack, inst, "prod")
    assert len(source.splitlines()) == 2_000

    checkpoint = requests.post(ops + "/checkpoints", headers=auth, timeout=30,
                               json={"aggregate_type": "order", "aggregate_id": "0RDER0007"})
    assert checkpoint.status_code == 201, checkpoint.text
    assert checkpoint.json()["length"] == 50
    listed = requests.get(ops + "/checkpoints", headers=auth, timeout=30).json()
    assert [c["id"] for c in listed["checkpoints"]] == [checkpoint.json()["id"]]

    root = requests.post(ops + "/root-checkpoints", headers=auth, timeout=30,
                         json={"aggregate_type": "order"})
    assert root.status_code in (201, 202), root.text
    if root.status_code == 202:
        assert wait_job(stack, auth, root.json()["status_url"])["status"] == "completed"
    latest = requests.get(ops + "/root-checkpoints/latest", headers=auth, timeout=30,
                          params={"aggregate_type": "order"})
    assert latest.status_code == 200, latest.text
    assert latest.json()["count"] == 40

    backup = requests.post(ops + "/backups", headers=auth, timeout=30)
    assert backup.status_code == 202, backup.text
    done = wait_job(stack, auth, backup.json()["status_url"])
    assert done["status"] == "completed" and done["events"] == 2_000, done
    restore = requests.post(ops + f"/backups/{backup.json()['job_id']}/restore", headers=auth,
                            timeout=30, json={"target_environment": "staging"})
    assert restore.status_code == 202, restore.text
    restored = wait_job(stack, auth, restore.json()["status_url"])
    assert restored["status"] == "completed", restored
    assert export(stack, inst, "staging") == source
    prod_root = requests.get(stack.url + f"/internal/instances/{inst}/prod/audit/merkle-root/"
                                         "order/0RDER0007",
                             headers={"X-Node-Secret": NODE_SECRET}, timeout=30).json()
    staging_root = requests.get(stack.url + f"/internal/instances/{inst}/staging/audit/"
                                            "merkle-root/order/0RDER0007",
                                headers={"X-Node-Secret": NODE_SECRET}, timeout=30).json()
    assert prod_root == staging_root
