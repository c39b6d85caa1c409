"""The long jobs of data loading, by kind (chalicelib.features.JOB_KINDS): each streams
its file from S3 through loader.run. A backup restore is one of them: the backups
feature starts it, naming the backup's file as the source."""
from __future__ import annotations

from chalicelib.core.errors import AppError
from chalicelib.platform.imports import loader
from chalicelib.store import specs


def _spec_of(job):
    def spec() -> dict:
        item = specs.latest(job.job.instance_id, job.job.environment)
        if item is None:
            raise AppError("JOB_FAILED", "no spec is deployed in the target environment")
        return item.spec
    return spec


def _source(job) -> tuple[str, str]:
    source = job.params["source"]
    return source["bucket"], source["key"]


def run_import(job):
    return loader.run(job, _spec_of(job), _source(job), historical=True,
                      skip_invalid=bool(job.params.get("skip_invalid")))


def run_inject(job):
    return loader.run(job, _spec_of(job), _source(job), historical=False, skip_invalid=False)


def run_cold_start(job):
    def still_empty(run) -> None:
        from chalicelib.platform.imports.service import has_events
        if run.cursor.get("applied") is None and has_events(run.job.instance_id,
                                                             run.job.environment):
            raise AppError("JOB_FAILED", "the environment received events before the cold "
                           "start applied any: cold_start loads only an empty environment")
    return loader.run(job, _spec_of(job), _source(job), historical=True,
                      skip_invalid=bool(job.params.get("skip_invalid")), before_apply=still_empty)


def run_restore(job):
    def clear(run) -> None:
        if run.params.get("replace"):
            loader.clear_environment(run)
    return loader.run(job, _spec_of(job), _source(job), historical=True, skip_invalid=False,
                      before_apply=clear)


KINDS = {"import": run_import, "import_jsonl": run_import, "cold_start": run_cold_start,
         "inject": run_inject, "restore_backup": run_restore}
JOBS: list = []
