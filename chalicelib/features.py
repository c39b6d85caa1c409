"""Every feature of the control plane, listed once.

app.py registers each feature's blueprint and scheduled jobs from here; the local runner
and the tests run the jobs from here too."""
from __future__ import annotations

from chalicelib.chat.config import api as config_api
from chalicelib.chat.devices import api as devices_api
from chalicelib.chat.devices import jobs as devices_jobs
from chalicelib.chat.health import api as health_api
from chalicelib.chat.health import jobs as health_jobs
from chalicelib.chat.metrics import api as metrics_api
from chalicelib.chat.metrics import jobs as metrics_jobs
from chalicelib.chat.moderation import api as moderation_api
from chalicelib.core.schedules import Job
from chalicelib.http import dashboard, meta
from chalicelib.identity import api as identity_api
from chalicelib.platform.backups import api as backups_api
from chalicelib.platform.backups import jobs as backups_jobs
from chalicelib.platform.blobs import api as blobs_api
from chalicelib.platform.checkpoints import api as checkpoints_api
from chalicelib.platform.checkpoints import jobs as checkpoints_jobs
from chalicelib.platform.events import api as events_api
from chalicelib.platform.imports import api as imports_api
from chalicelib.platform.imports import jobs as imports_jobs
from chalicelib.platform.instances import api as instances_api
from chalicelib.platform.integrity import api as integrity_api
from chalicelib.platform.keys import api as keys_api
from chalicelib.platform.jobs import api as jobs_api
from chalicelib.platform.jobs import jobs as jobs_jobs
from chalicelib.platform.keys import jobs as keys_jobs
from chalicelib.platform.sagas import api as sagas_api
from chalicelib.platform.sagas import jobs as sagas_jobs
from chalicelib.platform.schedules import api as schedules_api
from chalicelib.platform.schedules import jobs as schedules_jobs
from chalicelib.platform.specs import api as specs_api
from chalicelib.platform.tombstones import api as tombstones_api
from chalicelib.platform.tombstones import jobs as tombstones_jobs
from chalicelib.platform.webhooks import api as webhooks_api
from chalicelib.platform.webhooks import jobs as webhooks_jobs
from chalicelib.store import reactions

BLUEPRINTS = [module.bp for module in (
    meta, identity_api,
    instances_api, keys_api, specs_api, events_api, integrity_api, blobs_api, imports_api,
    backups_api, jobs_api, checkpoints_api,
    schedules_api, sagas_api, webhooks_api, tombstones_api,
    devices_api, moderation_api, config_api, metrics_api, health_api, dashboard,
)]

JOBS: dict[str, Job] = {job.name: job for module in (
    keys_jobs, backups_jobs, health_jobs, devices_jobs, metrics_jobs, jobs_jobs,
    checkpoints_jobs, schedules_jobs, sagas_jobs, webhooks_jobs, tombstones_jobs,
) for job in module.JOBS}

# what acts over time: each feature's queue tasks and what appends set in motion
_TIMED = (schedules_jobs, sagas_jobs, webhooks_jobs, tombstones_jobs)

# what each kind of long job runs: fn(run: store.jobs.Run) -> "more" | result dict
JOB_KINDS: dict = {}
for _module in (backups_jobs, imports_jobs, checkpoints_jobs):
    JOB_KINDS.update(getattr(_module, "KINDS", {}))


def run(name: str) -> dict:
    return JOBS[name].run()


def _run_job(message: dict) -> str:
    from chalicelib.store import jobs
    return jobs.run_slice(message["scope"], message["id"], JOB_KINDS)


# what each task on the work queue (chalicelib/store/queues.py) does
TASKS = {"job": _run_job, "backup": backups_jobs.run_requested}
for _module in _TIMED:
    TASKS.update(_module.TASKS)
    if _module.REACTOR is not None:
        reactions.register(_module.REACTOR)


def _emit_as_system(*args, **kwargs):
    """Scheduled events and saga steps append through the data plane's own path."""
    from chalicelib.platform.events import service as event_store
    return event_store.append_as_system(*args, **kwargs)


reactions.set_emitter(_emit_as_system)


def handle_message(body: str) -> str:
    """One message of the work queue, in AWS (app.work_queue) and under `make run`. A
    message that is not a task we know is logged and dropped (retrying cannot help)."""
    import json

    from chalicelib.core.observability import logger
    try:
        message = json.loads(body)
        task = TASKS[message["task"]]
    except (ValueError, KeyError, TypeError):
        logger.error("dropped a message that names no task", extra={"body": body[:500]})
        return "dropped"
    return task(message)
