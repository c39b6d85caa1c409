"""Data loading: an environment's events out as JSON Lines, one bounded page at a time
(the paging itself is the event log's, which backups read too), and events in — inject,
import, import_jsonl (a body or a presigned upload), cold_start — as jobs of the work
queue (chalicelib/store/jobs.py) that loader.py runs.

Choices:
- Every load writes its input to the "uploads" bucket first (`<instance>/<env>/<job>.jsonl`,
  or the presigned upload's own key) so that the job reads one file, streamed, however it
  came; API Gateway's 10 MB payload limit is passed by the presigned upload.
- `inject` (test data, staging/test only) runs its job in the request and answers 201
  with what it wrote; if it cannot finish within INJECT_SECONDS it answers 202 and the
  queue finishes it. Its events are appended now (positions and timestamps in the lines
  are ignored), validated like any write.
- `import`, `import_jsonl` and `cold_start` answer 202 {job_id, status_url} at once.
  `cold_start` is refused (409 ENVIRONMENT_NOT_EMPTY) when the environment holds events,
  at the request and again when the job starts applying."""
from __future__ import annotations

import json
import secrets

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.store import aws, event_log, jobs, specs
from chalicelib.store.buckets import bucket_name
from chalicelib.store.tables import Job

PAGE_SIZE = event_log.PAGE_SIZE
MEDIA_TYPE = "application/x-ndjson"
UPLOAD_SECONDS = 3600          # a presigned upload URL's life
INJECT_SECONDS = 20.0          # inline work of an inject, under API Gateway's 29 s
MAX_BODY_EVENTS = 100_000


def export_page(instance_id: str, env: str, aggregate_type: str | None, cursor: str | None,
                limit: int | None) -> tuple[str, dict]:
    """(body, headers): the page's lines, their count, and X-Next-Cursor unless last."""
    page = event_log.page(instance_id, env, aggregate_type=aggregate_type, cursor=cursor,
                          limit=limit)
    headers = {"Content-Type": MEDIA_TYPE, "X-Export-Count": str(len(page.lines))}
    if page.next_cursor:
        headers["X-Next-Cursor"] = page.next_cursor
    return page.body, headers


# --- starting loads ---------------------------------------------------------------------

def _bucket() -> str:
    return bucket_name("uploads")


def _require_spec(instance_id: str, env: str) -> None:
    if specs.latest(instance_id, env) is None:
        raise AppError("SPEC_NOT_FOUND", "No spec is deployed in this environment; deploy one "
                                         "before loading events")


def has_events(instance_id: str, env: str) -> bool:
    return bool(specs.stored_types(instance_id, env))


def _require_empty(instance_id: str, env: str) -> None:
    if has_events(instance_id, env):
        raise AppError("ENVIRONMENT_NOT_EMPTY", f"The {env} environment already holds events; "
                       "cold_start is the first load of an empty environment (use import)")


def _lines_of(events: list) -> bytes:
    return "".join(json.dumps(e, separators=(",", ":"), ensure_ascii=False) + "\n"
                   for e in events).encode()


def _start(act, instance_id: str, env: str, kind: str, source_key: str, params: dict,
           audit_details: dict):
    from chalicelib.identity import audit
    job = jobs.new(instance_id, env, kind, {"source": {"bucket": _bucket(), "key": source_key},
                                            **params}, act.actor.subject)
    note = audit.Note(f"{instance_id}/{env}/{job.id}",
                      {"job_id": job.id, "kind": kind, **audit_details})
    return job, note


def load(act, instance_id: str, env: str, kind: str, body: bytes | list,
         skip_invalid: bool):
    """import / import_jsonl (body) / cold_start: the input to S3, then the job; the
    202 answer and the audit note."""
    _require_spec(instance_id, env)
    if kind == "cold_start":
        _require_empty(instance_id, env)
    raw = _lines_of(body) if isinstance(body, list) else body
    key = f"{instance_id}/{env}/{clock.new_id('load_')}.jsonl"
    aws.client("s3").put_object(Bucket=_bucket(), Key=key, Body=raw, ContentType=MEDIA_TYPE)
    job, note = _start(act, instance_id, env, kind, key, {"skip_invalid": skip_invalid},
                       {"bytes": len(raw)})
    return jobs.start(act, job, note), note


def presign_upload(instance_id: str, env: str) -> dict:
    """A presigned PUT for a file too large for a request body; pass `upload_id` to
    import_jsonl (or cold_start) afterwards."""
    _require_spec(instance_id, env)
    upload_id = f"up_{int(clock.now() * 1000):013d}{secrets.token_hex(8)}"
    key = _upload_key(instance_id, env, upload_id)
    url = aws.client("s3").generate_presigned_url(
        "put_object", Params={"Bucket": _bucket(), "Key": key, "ContentType": MEDIA_TYPE},
        ExpiresIn=UPLOAD_SECONDS)
    from chalicelib.identity import audit
    return ({"upload_id": upload_id, "url": url, "method": "PUT",
             "headers": {"Content-Type": MEDIA_TYPE},
             "expires_at": clock.iso(clock.now() + UPLOAD_SECONDS)},
            audit.Note(f"{instance_id}/{env}/{upload_id}", {"upload_id": upload_id}))


def _upload_key(instance_id: str, env: str, upload_id: str) -> str:
    return f"{instance_id}/{env}/uploads/{upload_id}.jsonl"


def load_upload(act, instance_id: str, env: str, kind: str, upload_id: str,
                skip_invalid: bool):
    _require_spec(instance_id, env)
    if kind == "cold_start":
        _require_empty(instance_id, env)
    key = _upload_key(instance_id, env, upload_id)
    try:
        size = aws.client("s3").head_object(Bucket=_bucket(), Key=key)["ContentLength"]
    except Exception:  # noqa: BLE001 - 404 from S3: not uploaded (yet)
        raise AppError("UPLOAD_NOT_FOUND")
    job, note = _start(act, instance_id, env, kind, key, {"skip_invalid": skip_invalid,
                                                         "upload_id": upload_id},
                       {"bytes": size, "upload_id": upload_id})
    return jobs.start(act, job, note), note


def inject(act, instance_id: str, env: str, events: list, kinds: dict, ctx_status):
    """Test data: validated like any write, appended now. Runs in the request; what it
    wrote (201), or the job (202) when it needs longer."""
    if env == "prod":
        raise AppError("INJECT_NOT_ALLOWED")
    _require_spec(instance_id, env)
    _check_all(instance_id, env, events)
    raw = _lines_of(events)
    key = f"{instance_id}/{env}/{clock.new_id('inject_')}.jsonl"
    aws.client("s3").put_object(Bucket=_bucket(), Key=key, Body=raw, ContentType=MEDIA_TYPE)
    job, note = _start(act, instance_id, env, "inject", key, {"skip_invalid": False},
                       {"events": len(events)})
    act.commit(note, lambda tx: tx.save(job, condition=Job.id.does_not_exist()))
    outcome = jobs.run_slice(job.scope, job.id, kinds, slice_seconds=INJECT_SECONDS)
    if outcome == "more":
        jobs.enqueue(job)
        ctx_status(202)
        return jobs.accepted(jobs.get(instance_id, env, job.id)), note
    done = jobs.get(instance_id, env, job.id)
    if done.status == "failed":
        raise AppError("HANDLER_FAILED", done.error or "the events could not be written")
    result = done.result or {}
    return {"ok": True, "count": result.get("applied", 0), "streams": result.get("streams", 0),
            "job_id": job.id}, note


def _check_all(instance_id: str, env: str, events: list) -> None:
    """Every problem of an inject body at once: 422 with each event's index."""
    from chalicelib.platform.imports import loader
    spec = specs.latest(instance_id, env).spec
    problems = []
    for i, record in enumerate(events):
        try:
            loader.check(record, i + 1, spec, historical=False)
        except loader.BadLine as exc:
            problems.append({"path": f"events[{i}]", "message": exc.message})
    if problems:
        raise AppError("SCHEMA_VIOLATION", f"{len(problems)} of {len(events)} events are not "
                       f"valid: {problems[0]['path']}: {problems[0]['message']}",
                       details=problems[:100])
