"""Reading jobs for the status routes; the lifecycle is chalicelib/store/jobs.py."""
from __future__ import annotations

from chalicelib.store import jobs as store

DEFAULT_PAGE = 50
MAX_PAGE = 200


def status(instance_id: str, env: str, job_id: str) -> dict:
    return store.describe(store.get(instance_id, env, job_id))


def list_page(instance_id: str, env: str, kind: str | None, status_: str | None, limit: int,
              cursor: str | None) -> dict:
    items, next_cursor = store.page(instance_id, env, kind, status_, limit, cursor)
    return {"jobs": [store.describe(j) for j in items], "next_cursor": next_cursor}
