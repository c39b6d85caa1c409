"""Seed 000's backups on the ops surface, and an instance's backup settings.

POST answers 202 {job_id, status_url, backup}, the shape of every long job: the
work queue starts the backup within seconds (the scheduled job `backups`, every 5 minutes, is the sweeper); status_url serves the record.
The lifecycle, retention and offsite choices are in service.py beside this module."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.http.routing import route
from chalicelib.http.schemas import (
    BOOLEAN,
    COUNT,
    ENVIRONMENT,
    ISO_TIME,
    JOB_ACCEPTED,
    JOB_ANSWER,
    STRING,
    array,
    nullable,
    obj,
)
from chalicelib.http.surfaces import OPS, where
from chalicelib.platform.backups import service as backups
from chalicelib.store.instances import load_instance

bp = Blueprint(__name__)

TAGS = ("ops",)

BACKUP_ANSWER = obj({
    "id": {"type": "string", "pattern": "^bk_[0-9]{13}[0-9a-f]{12}$"},
    "instance_id": STRING, "environment": ENVIRONMENT,
    "status": {"type": "string", "enum": ["pending", "running", "completed", "failed"]},
    "requested_at": ISO_TIME,
    "requested_by": {**STRING, "description": "the admin, or system:scheduler"},
    "started_at": nullable(ISO_TIME), "completed_at": nullable(ISO_TIME),
    "events": nullable(COUNT), "size": nullable({**COUNT, "description": "bytes"}),
    "sha256": nullable({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
    "s3_key": STRING,
    "offsite_status": nullable({"type": "string", "enum": ["completed", "failed"]}),
    "error": nullable({**STRING, "description": "why the backup failed"}),
    "progress": JOB_ANSWER["properties"]["progress"],
})
BACKUP_JOB_ANSWER = obj({"job_id": STRING, "status_url": STRING, "backup": BACKUP_ANSWER})
BACKUP_LIST_ANSWER = obj({"backups": array(BACKUP_ANSWER)})
BACKUP_DELETED_ANSWER = obj({"deleted": {"const": True}, "backup": BACKUP_ANSWER})
_SETTINGS_FIELDS = backups.SETTINGS_BODY["properties"]
BACKUP_SETTINGS_ANSWER = obj({
    "enabled": BOOLEAN,
    "interval_hours": _SETTINGS_FIELDS["interval_hours"],
    "retain": _SETTINGS_FIELDS["retain"],
    "offsite": nullable(obj({"bucket": {"type": "string", "pattern": backups.BUCKET_NAME},
                             "prefix": STRING})),
})


@route(bp, OPS + "/backups", "POST", summary="Request a backup (runs as a job)",
       permission="manage_ops", response=BACKUP_JOB_ANSWER, audit="backup_requested",
       status=202, tags=TAGS)
def request_backup(ctx, **params):
    instance_id, env = where(ctx, params)
    return backups.request_job(ctx.act, instance_id, env)


@route(bp, OPS + "/backups", "GET", summary="List backups, newest first",
       permission="manage_ops", response=BACKUP_LIST_ANSWER, tags=TAGS)
def list_backups(ctx, **params):
    instance_id, env = where(ctx, params)
    return {"backups": [backups.describe(b) for b in backups.list_all(instance_id, env)]}


@route(bp, OPS + "/backups/{backup_id}", "GET", summary="A backup's record (its status)",
       permission="manage_ops", response=BACKUP_ANSWER, tags=TAGS,
       errors=("BACKUP_NOT_FOUND",))
def get_backup(ctx, **params):
    instance_id, env = where(ctx, params)
    return backups.describe(backups.get(instance_id, env, params["backup_id"]))


@route(bp, OPS + "/backups/{backup_id}", "DELETE", summary="Delete a backup (object and record)",
       permission="manage_ops", response=BACKUP_DELETED_ANSWER, audit="backup_deleted",
       tags=TAGS,
       errors=("BACKUP_NOT_FOUND", "BACKUP_RUNNING"))
def delete_backup(ctx, **params):
    instance_id, env = where(ctx, params)
    return backups.delete(instance_id, env, params["backup_id"])


RESTORE_BODY = {
    "type": "object", "required": ["target_environment"],
    "properties": {
        "target_environment": ENVIRONMENT,
        "replace": {"type": "boolean", "default": False,
                    "description": "delete the target's events first (staging and test "
                                   "only); without it the target must hold no events"},
    },
    "additionalProperties": False,
}


@route(bp, OPS + "/backups/{backup_id}/restore", "POST",
       summary="Restore a backup into an environment (runs as a job): an empty one, or "
               "staging/test with replace",
       permission="manage_ops", body=RESTORE_BODY, response=JOB_ACCEPTED, status=202,
       audit="backup_restore_requested", tags=TAGS,
       errors=("BACKUP_NOT_FOUND", "BACKUP_NOT_COMPLETED", "RESTORE_NOT_ALLOWED",
               "SPEC_NOT_FOUND"))
def restore_backup(ctx, **params):
    instance_id, env = where(ctx, params)
    return backups.request_restore(ctx.act, instance_id, env, params["backup_id"],
                                   ctx.body["target_environment"],
                                   bool(ctx.body.get("replace", False)))


@route(bp, "/api/instances/{instance_id}/backup_settings", "GET",
       summary="The instance's backup settings", permission="manage_ops",
       response=BACKUP_SETTINGS_ANSWER, tags=TAGS)
def get_backup_settings(ctx, instance_id):
    load_instance(instance_id)
    return backups.settings_of(instance_id)


@route(bp, "/api/instances/{instance_id}/backup_settings", "PUT",
       summary="Update backup settings (fields given replace the current ones)",
       permission="manage_ops", audit="backup_settings_updated", body=backups.SETTINGS_BODY,
       response=BACKUP_SETTINGS_ANSWER, tags=TAGS)
def put_backup_settings(ctx, instance_id):
    load_instance(instance_id)
    return backups.put_settings(ctx.act, instance_id, ctx.body)
