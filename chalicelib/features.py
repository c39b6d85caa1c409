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
from chalicelib.http import meta
from chalicelib.identity import api as identity_api
from chalicelib.platform.backups import api as backups_api
from chalicelib.platform.backups import jobs as backups_jobs
from chalicelib.platform.blobs import api as blobs_api
from chalicelib.platform.events import api as events_api
from chalicelib.platform.imports import api as imports_api
from chalicelib.platform.instances import api as instances_api
from chalicelib.platform.integrity import api as integrity_api
from chalicelib.platform.keys import api as keys_api
from chalicelib.platform.keys import jobs as keys_jobs
from chalicelib.platform.specs import api as specs_api

BLUEPRINTS = [module.bp for module in (
    meta, identity_api,
    instances_api, keys_api, specs_api, events_api, integrity_api, blobs_api, imports_api,
    backups_api,
    devices_api, moderation_api, config_api, metrics_api, health_api,
)]

JOBS: dict[str, Job] = {job.name: job for module in (
    keys_jobs, backups_jobs, health_jobs, devices_jobs, metrics_jobs,
) for job in module.JOBS}


def run(name: str) -> dict:
    return JOBS[name].run()
