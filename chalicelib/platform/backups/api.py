"""Seed 000's backups on the ops surface, and an instance's backup settings.

POST answers 202 {job_id, status_url, backup}, the shape of every long job: the
scheduled job `backups` (every 5 minutes) runs the backup; status_url serves the record.
The lifecycle, retention and offsite choices are in service.py beside this module."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.http.routing import route
from chalicelib.http.surfaces import OPS, where
from chalicelib.platform.backups import service as backups
from chalicelib.store.instances import load_instance

bp = Blueprint(__name__)

TAGS = ("ops",)


@route(bp, OPS + "/backups", "POST", summary="Request a backup (runs as a job)",
       permission="manage_ops", audit="backup_requested", status=202, tags=TAGS)
def request_backup(ctx, **params):
    instance_id, env = where(ctx, params)
    return backups.request_job(ctx.act, instance_id, env)


@route(bp, OPS + "/backups", "GET", summary="List backups, newest first",
       permission="manage_ops", tags=TAGS)
def list_backups(ctx, **params):
    instance_id, env = where(ctx, params)
    return {"backups": [backups.describe(b) for b in backups.list_all(instance_id, env)]}


@route(bp, OPS + "/backups/{backup_id}", "GET", summary="A backup's record (its status)",
       permission="manage_ops", tags=TAGS)
def get_backup(ctx, **params):
    instance_id, env = where(ctx, params)
    return backups.describe(backups.get(instance_id, env, params["backup_id"]))


@route(bp, OPS + "/backups/{backup_id}", "DELETE", summary="Delete a backup (object and record)",
       permission="manage_ops", audit="backup_deleted", tags=TAGS)
def delete_backup(ctx, **params):
    instance_id, env = where(ctx, params)
    return backups.delete(instance_id, env, params["backup_id"])


@route(bp, "/api/instances/{instance_id}/backup_settings", "GET",
       summary="The instance's backup settings", permission="manage_ops", tags=TAGS)
def get_backup_settings(ctx, instance_id):
    load_instance(instance_id)
    return backups.settings_of(instance_id)


@route(bp, "/api/instances/{instance_id}/backup_settings", "PUT",
       summary="Update backup settings (fields given replace the current ones)",
       permission="manage_ops", audit="backup_settings_updated", body=backups.SETTINGS_BODY,
       tags=TAGS)
def put_backup_settings(ctx, instance_id):
    load_instance(instance_id)
    return backups.put_settings(ctx.act, instance_id, ctx.body)
