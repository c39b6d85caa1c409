"""ops: operations on one instance environment (backups, checkpoints, root checkpoints,
imports, jobs, scheduled events, sagas, deliveries, tombstones, errors)."""
from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

import click

from cli import output
from cli.core import ENVIRONMENTS, command, confirm, listing, print_next, state, yes_option
from cli.http import Client, put_presigned

DIRECT_LIMIT = 5 * 1024 * 1024  # larger files go through a presigned upload (API Gateway: 10 MB)
POLL_SECONDS = 0.5


def register(cli: click.Group) -> None:
    cli.add_command(ops)


def target(fn):
    """--instance/-i and --env/-e, passed on as the ops path prefix `base`."""
    @click.option("--instance", "-i", "instance_id", required=True, envvar="ADMINCTL_INSTANCE",
                  help="Instance id (env ADMINCTL_INSTANCE).")
    @click.option("--env", "-e", "env", type=click.Choice(ENVIRONMENTS), default="prod",
                  show_default=True, envvar="ADMINCTL_ENV", help="Environment (env ADMINCTL_ENV).")
    @functools.wraps(fn)
    def wrapper(instance_id, env, **kw):
        return fn(base=f"/api/instances/{instance_id}/ops/{env}", **kw)
    return wrapper


def paging(fn):
    fn = click.option("--cursor", help="Page to start from (the previous page's next cursor).")(fn)
    return click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)(fn)


def _list(path: str, key: str, columns: list[str], query: dict) -> None:
    st = state()
    answer = st.client().get(path, query=query)
    st.emit(answer, lambda a: listing(a.get(key) or [], columns))
    print_next(answer)


def _show(path: str) -> None:
    st = state()
    st.emit(st.client().get(path))


@click.group()
def ops():
    """Operations on an instance environment (-i INSTANCE -e ENV on each command)."""


# --- jobs and the progress bar ---------------------------------------------------------

class JobFailed(click.ClickException):
    exit_code = 1


def wait_job(client: Client, status_url: str, timeout: float, show_bar: bool) -> dict:
    """Poll a job's status_url until it completes or fails, with a progress bar on stderr."""
    deadline = time.monotonic() + timeout
    job = client.get(status_url)
    shown = 0
    bar_ctx = click.progressbar(length=100, label=f"{job.get('kind', 'job')} {job.get('id', '')}",
                                file=sys.stderr, show_eta=False,
                                item_show_func=lambda j: _progress_text(j) if j else None) \
        if show_bar else None
    bar = bar_ctx.__enter__() if bar_ctx else None
    try:
        while True:
            percent = (job.get("progress") or {}).get("percent")
            if job.get("status") == "completed":
                percent = 100
            if bar is not None and percent is not None and int(percent) > shown:
                bar.update(int(percent) - shown, job)
                shown = int(percent)
            if job.get("status") in ("completed", "failed"):
                return job
            if time.monotonic() > deadline:
                raise JobFailed(f"job {job.get('id')} still {job.get('status')} after {timeout:.0f} s; "
                                f"follow it with `adminctl ops jobs show {job.get('id')} --wait`")
            time.sleep(POLL_SECONDS)
            job = client.get(status_url)
    finally:
        if bar_ctx:
            bar_ctx.__exit__(None, None, None)


def _progress_text(job: dict) -> str:
    p = job.get("progress") or {}
    total = p.get("total")
    return f"{p.get('done', 0)}/{total if total is not None else '?'} {job.get('status', '')}"


def _finish_job(answer: dict, wait: bool, timeout: float) -> None:
    """After a 202: print the answer, or wait for the job and print it (exit 1 if failed)."""
    st = state()
    if not wait or not answer.get("status_url"):
        st.emit(answer, lambda a: output.keyvalues({k: v for k, v in a.items() if k != "job"}))
        return
    tty = sys.stderr.isatty()
    if not st.json and not tty:
        click.echo(f"Waiting for job {answer.get('job_id', '')} ...", err=True)
    job = wait_job(st.client(), answer["status_url"], timeout, show_bar=not st.json and tty)
    st.emit(job, _job_text)
    if job.get("status") == "failed":
        raise JobFailed(f"job {job.get('id')} failed: {json.dumps(job.get('error'))}")


def _job_text(job: dict) -> str:
    keep = ["id", "kind", "status", "requested_by", "requested_at", "completed_at", "progress",
            "result", "error"]
    return output.keyvalues({k: job.get(k) for k in keep if k in job})


wait_options = [
    click.option("--wait/--no-wait", default=True, show_default=True,
                 help="Wait for the job, with a progress bar."),
    click.option("--timeout", type=float, default=600, show_default=True, help="Seconds to wait."),
]


def with_wait(fn):
    for option in reversed(wait_options):
        fn = option(fn)
    return fn


@ops.group()
def jobs():
    """Long jobs (imports, restores, root checkpoints, backups)."""


JOB_COLUMNS = ["id", "kind", "status", "progress.percent", "requested_by", "requested_at"]


@command(jobs, "list")
@target
@click.option("--kind")
@click.option("--status", type=click.Choice(["pending", "running", "completed", "failed"]))
@paging
def jobs_list(base, kind, status, limit, cursor):
    """List jobs."""
    _list(base + "/jobs", "jobs", JOB_COLUMNS,
          {"kind": kind, "status": status, "limit": limit, "cursor": cursor})


@command(jobs, "show")
@target
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Wait for it to end, with a progress bar.")
@click.option("--timeout", type=float, default=600, show_default=True)
def jobs_show(base, job_id, wait, timeout):
    """A job's status, progress and result."""
    st = state()
    if wait:
        _finish_job({"status_url": f"{base}/jobs/{job_id}"}, True, timeout)
    else:
        st.emit(st.client().get(f"{base}/jobs/{job_id}"), _job_text)


# --- imports ---------------------------------------------------------------------------

@command(ops, "import")
@target
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--skip-invalid", is_flag=True, help="Apply the good lines and list the bad ones.")
@click.option("--upload/--direct", "upload", default=None,
              help="Send the file through a presigned upload (default: when over 5 MB).")
@click.option("--cold-start", is_flag=True, help="Load into an empty environment (cold_start).")
@with_wait
def ops_import(base, file, skip_invalid, upload, cold_start, wait, timeout):
    """Load a JSON Lines file of events (the export's shape), with a progress bar."""
    st = state()
    client = st.client()
    path = Path(file)
    route = base + ("/cold_start" if cold_start else "/import_jsonl")
    query = {"skip_invalid": True} if skip_invalid else None
    if upload is None:
        upload = path.stat().st_size > DIRECT_LIMIT
    if upload:
        slot = client.post(base + "/import_jsonl/uploads")
        put_presigned(slot["url"], path.read_bytes(), slot.get("headers") or {})
        answer = client.request("POST", route, query=query, body={"upload_id": slot["upload_id"]}).body
    else:
        answer = client.request("POST", route, query=query, data=path.read_bytes(),
                                content_type="application/x-ndjson").body
    _finish_job(answer, wait, timeout)


# --- backups ---------------------------------------------------------------------------

@ops.group()
def backups():
    """Backups of an environment: list, create, show, restore, delete."""


BACKUP_COLUMNS = ["id", "status", "events", "size", "requested_by", "requested_at", "completed_at"]


@command(backups, "list")
@target
def backups_list(base):
    """List backups."""
    _list(base + "/backups", "backups", BACKUP_COLUMNS, {})


@command(backups, "show")
@target
@click.argument("backup_id")
def backups_show(base, backup_id):
    """One backup."""
    _show(f"{base}/backups/{backup_id}")


@command(backups, "create")
@target
@with_wait
def backups_create(base, wait, timeout):
    """Back up the environment now."""
    _finish_job(state().client().request("POST", base + "/backups").body, wait, timeout)


@command(backups, "restore")
@target
@click.argument("backup_id")
@click.option("--target-env", type=click.Choice(ENVIRONMENTS), required=True,
              help="Environment to restore into (empty, or staging/test with --replace).")
@click.option("--replace", is_flag=True, help="Delete the target's events first (staging/test).")
@yes_option
@with_wait
def backups_restore(base, backup_id, target_env, replace, yes, wait, timeout):
    """Restore a completed backup into an environment."""
    confirm(yes, f"Restore backup {backup_id} into {target_env}"
                 + (" replacing its events" if replace else "") + "?")
    body = {"target_environment": target_env}
    if replace:
        body["replace"] = True
    _finish_job(state().client().post(f"{base}/backups/{backup_id}/restore", body), wait, timeout)


@command(backups, "delete")
@target
@click.argument("backup_id")
@yes_option
def backups_delete(base, backup_id, yes):
    """Delete a backup."""
    confirm(yes, f"Delete backup {backup_id}?")
    st = state()
    st.emit(st.client().delete(f"{base}/backups/{backup_id}"))


# --- checkpoints -----------------------------------------------------------------------

@ops.group()
def checkpoints():
    """Checkpoints of one aggregate's state."""


CHECKPOINT_COLUMNS = ["id", "aggregate_type", "aggregate_id", "length", "spec_version",
                      "handlers_current", "state_size", "created_at"]


@command(checkpoints, "list")
@target
@click.option("--type", "agg_type")
@click.option("--id", "agg_id")
@paging
def checkpoints_list(base, agg_type, agg_id, limit, cursor):
    """List checkpoints, newest first."""
    _list(base + "/checkpoints", "checkpoints", CHECKPOINT_COLUMNS,
          {"aggregate_type": agg_type, "aggregate_id": agg_id, "limit": limit, "cursor": cursor})


@command(checkpoints, "create")
@target
@click.option("--type", "agg_type", required=True)
@click.option("--id", "agg_id", required=True)
@click.option("--length", type=int, help="Stream length to checkpoint (default: all).")
def checkpoints_create(base, agg_type, agg_id, length):
    """Checkpoint an aggregate's state."""
    body = {"aggregate_type": agg_type, "aggregate_id": agg_id}
    if length is not None:
        body["length"] = length
    st = state()
    st.emit(st.client().post(base + "/checkpoints", body))


@command(checkpoints, "restore")
@target
@click.argument("checkpoint_id")
@click.option("--accept-handler-change", is_flag=True)
@yes_option
def checkpoints_restore(base, checkpoint_id, accept_handler_change, yes):
    """Re-fold an aggregate from a checkpoint under the spec in force."""
    confirm(yes, f"Restore checkpoint {checkpoint_id}? The aggregate's cached state is replaced.")
    body = {"accept_handler_change": True} if accept_handler_change else {}
    st = state()
    st.emit(st.client().post(f"{base}/checkpoints/{checkpoint_id}/restore", body))


@command(checkpoints, "delete")
@target
@click.argument("checkpoint_id")
@yes_option
def checkpoints_delete(base, checkpoint_id, yes):
    """Delete a checkpoint."""
    confirm(yes, f"Delete checkpoint {checkpoint_id}?")
    st = state()
    st.emit(st.client().delete(f"{base}/checkpoints/{checkpoint_id}"))


@ops.group("root-checkpoints")
def root_checkpoints():
    """Root checkpoints: every aggregate of a type at once."""


ROOT_COLUMNS = ["id", "aggregate_type", "status", "count", "size", "spec_version", "cut_at",
                "completed_at"]


@command(root_checkpoints, "list")
@target
@click.option("--type", "agg_type")
@paging
def root_list(base, agg_type, limit, cursor):
    """List root checkpoints, newest first."""
    _list(base + "/root-checkpoints", "root_checkpoints", ROOT_COLUMNS,
          {"aggregate_type": agg_type, "limit": limit, "cursor": cursor})


@command(root_checkpoints, "create")
@target
@click.option("--type", "agg_type", required=True)
@with_wait
def root_create(base, agg_type, wait, timeout):
    """Write a root checkpoint of a type (a job; waits with a progress bar)."""
    answer = state().client().post(base + "/root-checkpoints", {"aggregate_type": agg_type})
    _finish_job(answer, wait, timeout)


@command(root_checkpoints, "latest")
@target
@click.option("--type", "agg_type", required=True)
def root_latest(base, agg_type):
    """The newest completed root checkpoint of a type."""
    st = state()
    st.emit(st.client().get(base + "/root-checkpoints/latest", query={"aggregate_type": agg_type}))


@command(root_checkpoints, "delete")
@target
@click.argument("root_checkpoint_id")
@yes_option
def root_delete(base, root_checkpoint_id, yes):
    """Delete a root checkpoint (record, file and manifest)."""
    confirm(yes, f"Delete root checkpoint {root_checkpoint_id}?")
    st = state()
    st.emit(st.client().delete(f"{base}/root-checkpoints/{root_checkpoint_id}"))


# --- scheduled events ------------------------------------------------------------------

@ops.group()
def scheduled():
    """Scheduled events: list, show, cancel, retry, dead letters."""


SCHEDULED_COLUMNS = ["id", "status", "due_at", "aggregate_type", "aggregate_id", "event_type",
                     "emit.event_type", "attempts"]


@command(scheduled, "list")
@target
@click.option("--status", type=click.Choice(["pending", "emitted", "cancelled", "failed"]))
@click.option("--type", "agg_type")
@click.option("--id", "agg_id")
@paging
def scheduled_list(base, status, agg_type, agg_id, limit, cursor):
    """List scheduled events."""
    _list(base + "/scheduled", "scheduled", SCHEDULED_COLUMNS,
          {"status": status, "aggregate_type": agg_type, "aggregate_id": agg_id,
           "limit": limit, "cursor": cursor})


@command(scheduled, "dead")
@target
@click.option("--type", "agg_type")
@click.option("--id", "agg_id")
@paging
def scheduled_dead(base, agg_type, agg_id, limit, cursor):
    """Scheduled events whose every attempt failed (dead letters)."""
    _list(base + "/scheduled/dead", "dead_letters", SCHEDULED_COLUMNS,
          {"aggregate_type": agg_type, "aggregate_id": agg_id, "limit": limit, "cursor": cursor})


@command(scheduled, "show")
@target
@click.argument("event_id")
def scheduled_show(base, event_id):
    """One scheduled event."""
    _show(f"{base}/scheduled/{event_id}")


@command(scheduled, "cancel")
@target
@click.argument("event_id")
@click.option("--reason")
@yes_option
def scheduled_cancel(base, event_id, reason, yes):
    """Cancel a pending scheduled event."""
    confirm(yes, f"Cancel scheduled event {event_id}?")
    st = state()
    st.emit(st.client().post(f"{base}/scheduled/{event_id}/cancel",
                             {"reason": reason} if reason else {}))


@command(scheduled, "retry")
@target
@click.argument("event_id")
def scheduled_retry(base, event_id):
    """Retry a failed scheduled event (a dead letter)."""
    st = state()
    st.emit(st.client().post(f"{base}/scheduled/{event_id}/retry", {}))


# --- sagas and deliveries --------------------------------------------------------------

@ops.group()
def sagas():
    """Sagas: list, show, retry."""


SAGA_COLUMNS = ["id", "saga", "status", "current_step", "run", "trigger.stream_id", "updated_at"]


@command(sagas, "list")
@target
@click.option("--name")
@click.option("--status")
@paging
def sagas_list(base, name, status, limit, cursor):
    """List sagas."""
    _list(base + "/sagas", "sagas", SAGA_COLUMNS,
          {"name": name, "status": status, "limit": limit, "cursor": cursor})


@command(sagas, "show")
@target
@click.argument("saga_id")
def sagas_show(base, saga_id):
    """One saga with its steps."""
    _show(f"{base}/sagas/{saga_id}")


@command(sagas, "retry")
@target
@click.argument("saga_id")
def sagas_retry(base, saga_id):
    """Restart a failed or compensated saga."""
    st = state()
    st.emit(st.client().request("POST", f"{base}/sagas/{saga_id}/retry").body)


@ops.group()
def deliveries():
    """Webhook deliveries: list, show, retry."""


DELIVERY_COLUMNS = ["id", "listener", "status", "dead_letter", "stream_id", "event_type",
                    "attempt_count", "next_attempt_at"]


@command(deliveries, "list")
@target
@click.option("--status", type=click.Choice(["pending", "delivered", "failed", "cancelled"]))
@click.option("--listener")
@click.option("--event-type")
@click.option("--type", "agg_type")
@paging
def deliveries_list(base, status, listener, event_type, agg_type, limit, cursor):
    """List deliveries."""
    _list(base + "/deliveries", "deliveries", DELIVERY_COLUMNS,
          {"status": status, "listener": listener, "event_type": event_type,
           "aggregate_type": agg_type, "limit": limit, "cursor": cursor})


@command(deliveries, "show")
@target
@click.argument("delivery_id")
def deliveries_show(base, delivery_id):
    """One delivery with its attempts."""
    _show(f"{base}/deliveries/{delivery_id}")


@command(deliveries, "retry")
@target
@click.argument("delivery_id")
def deliveries_retry(base, delivery_id):
    """Retry a failed delivery."""
    st = state()
    st.emit(st.client().post(f"{base}/deliveries/{delivery_id}/retry", {}))


# --- tombstones ------------------------------------------------------------------------

@ops.group()
def tombstones():
    """GDPR tombstones: request, list, show, cancel, execute."""


TOMBSTONE_COLUMNS = ["id", "status", "aggregate_type", "aggregate_id", "requested_by",
                     "executable_at", "events_erased"]


@command(tombstones, "request")
@target
@click.argument("agg_type")
@click.argument("agg_id")
@click.option("--reason", required=True)
@click.option("--legal-basis", required=True, help="e.g. 'GDPR Art. 17'.")
@click.option("--requested-by", required=True, help="Who asked for the erasure.")
@click.option("--grace-hours", type=float, help="Grace period before it may run (min 72).")
@yes_option
def tombstones_request(base, agg_type, agg_id, reason, legal_basis, requested_by, grace_hours, yes):
    """Request the erasure of an aggregate's event payloads."""
    confirm(yes, f"Request a tombstone for {agg_type}/{agg_id}? Its payloads will be erased "
                 f"after the grace period.")
    body = {"reason": reason, "legal_basis": legal_basis, "requested_by": requested_by}
    if grace_hours is not None:
        body["grace_period_hours"] = grace_hours
    st = state()
    st.emit(st.client().post(f"{base}/tombstone/{agg_type}/{agg_id}", body))


@command(tombstones, "list")
@target
@click.option("--status", type=click.Choice(["pending", "executing", "executed", "cancelled", "failed"]))
@click.option("--type", "agg_type")
@paging
def tombstones_list(base, status, agg_type, limit, cursor):
    """List tombstones."""
    _list(base + "/tombstones", "tombstones", TOMBSTONE_COLUMNS,
          {"status": status, "aggregate_type": agg_type, "limit": limit, "cursor": cursor})


@command(tombstones, "show")
@target
@click.argument("tombstone_id")
def tombstones_show(base, tombstone_id):
    """One tombstone."""
    _show(f"{base}/tombstones/{tombstone_id}")


@command(tombstones, "cancel")
@target
@click.argument("tombstone_id")
@yes_option
def tombstones_cancel(base, tombstone_id, yes):
    """Cancel a pending tombstone."""
    confirm(yes, f"Cancel tombstone {tombstone_id}?")
    st = state()
    st.emit(st.client().delete(f"{base}/tombstones/{tombstone_id}"))


@command(tombstones, "execute")
@target
@click.argument("tombstone_id")
@yes_option
def tombstones_execute(base, tombstone_id, yes):
    """Erase now (once the grace period has passed). This cannot be undone."""
    confirm(yes, f"Execute tombstone {tombstone_id}? The payloads are erased for good.")
    st = state()
    st.emit(st.client().request("POST", f"{base}/tombstones/{tombstone_id}/execute").body)


# --- errors ----------------------------------------------------------------------------

@ops.group()
def errors():
    """Stored 5xx errors, by the error_id an answer carried."""


@command(errors, "show")
@target
@click.argument("error_id")
def errors_show(base, error_id):
    """The stored context and trace of an error."""
    _show(f"{base}/errors/{error_id}")


# --- settings, blobs, integrity --------------------------------------------------------

def _settings(path: str, body: dict) -> None:
    """GET the settings, or PUT the fields given (the others stay as they are)."""
    st = state()
    client = st.client()
    body = {k: v for k, v in body.items() if v is not None}
    st.emit(client.put(path, body) if body else client.get(path))


@command(backups, "settings")
@target
@click.option("--enabled/--disabled", default=None, help="Scheduled backups on or off.")
@click.option("--interval-hours", type=click.IntRange(1))
@click.option("--retain", type=click.IntRange(1), help="Completed backups kept.")
def backups_settings(base, enabled, interval_hours, retain):
    """Show the instance's backup settings, or change the fields given."""
    instance_base = base.rsplit("/ops/", 1)[0]
    _settings(instance_base + "/backup_settings",
              {"enabled": enabled, "interval_hours": interval_hours, "retain": retain})


@command(root_checkpoints, "settings")
@target
@click.option("--enabled/--disabled", default=None, help="Scheduled root checkpoints on or off.")
@click.option("--interval-hours", type=click.IntRange(1, 168))
@click.option("--type", "agg_types", multiple=True, help="Aggregate type (repeat; none: every type).")
@click.option("--retain", type=click.IntRange(1, 365))
def root_settings(base, enabled, interval_hours, agg_types, retain):
    """Show the environment's root checkpoint settings, or change the fields given."""
    _settings(base + "/root-checkpoint-settings",
              {"enabled": enabled, "interval_hours": interval_hours,
               "aggregate_types": list(agg_types) or None, "retain": retain})


@ops.group()
def blobs():
    """Blobs stored for an environment."""


@command(blobs, "list")
@target
@paging
def blobs_list(base, limit, cursor):
    """List blobs."""
    _list(base + "/blobs", "blobs", ["name", "size", "content_type", "created_at"],
          {"limit": limit, "cursor": cursor})


@ops.group()
def integrity():
    """An aggregate's hash chain and Merkle tree (RFC 6962)."""


@command(integrity, "verify-chain")
@target
@click.argument("agg_type")
@click.argument("agg_id")
def integrity_verify_chain(base, agg_type, agg_id):
    """Recompute the aggregate's hash chain and compare it with what is stored."""
    _show(f"{base}/audit/verify-chain/{agg_type}/{agg_id}")


@command(integrity, "merkle-root")
@target
@click.argument("agg_type")
@click.argument("agg_id")
def integrity_merkle_root(base, agg_type, agg_id):
    """The aggregate's Merkle root."""
    _show(f"{base}/audit/merkle-root/{agg_type}/{agg_id}")


@command(integrity, "merkle-proof")
@target
@click.argument("agg_type")
@click.argument("agg_id")
@click.argument("index", type=click.IntRange(0))
@click.option("--tree-size", type=click.IntRange(1), help="For an earlier tree.")
def integrity_merkle_proof(base, agg_type, agg_id, index, tree_size):
    """The inclusion proof of one event."""
    st = state()
    st.emit(st.client().get(f"{base}/audit/merkle-proof/{agg_type}/{agg_id}/{index}",
                            query={"tree_size": tree_size}))
