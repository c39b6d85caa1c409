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


def _loaded(job, result):
    """A load that completed no longer needs its input: a file in the uploads bucket is
    deleted, so no copy of the loaded payloads outlives the load (a tombstone erases what
    is in the tables; a failed load's file stays until a tombstone or a retry)."""
    if isinstance(result, dict):
        from chalicelib.store import aws
        from chalicelib.store.buckets import bucket_name
        bucket, key = _source(job)
        if bucket == bucket_name("uploads"):
            aws.client("s3").delete_object(Bucket=bucket, Key=key)
    return result


def run_import(job):
    return _loaded(job, loader.run(job, _spec_of(job), _source(job), historical=True,
                                   skip_invalid=bool(job.params.get("skip_invalid"))))


def run_inject(job):
    return _loaded(job, loader.run(job, _spec_of(job), _source(job), historical=False,
                                   skip_invalid=False))


def run_cold_start(job):
    def still_empty(run) -> None:
        from chalicelib.platform.imports.service import has_events
        if run.cursor.get("applied") is None and has_events(run.job.instance_id,
                                                             run.job.environment):
            raise AppError("JOB_FAILED", "the environment received events before the cold "
                           "start applied any: cold_start loads only an empty environment")
    return _loaded(job, loader.run(job, _spec_of(job), _source(job), historical=True,
                                   skip_invalid=bool(job.params.get("skip_invalid")),
                                   before_apply=still_empty))


def run_restore(job):
    def clear(run) -> None:
        if run.params.get("replace"):
            loader.clear_environment(run)
    result = loader.run(job, _spec_of(job), _source(job), historical=True, skip_invalid=False,
                        before_apply=clear)
    if isinstance(result, dict):    # e.g. what tombstones erased stays erased
        from chalicelib.store import restores
        restores.completed(job.job.instance_id, job.job.environment,
                           job.params.get("source_environment"))
    return result


KINDS = {"import": run_import, "import_jsonl": run_import, "cold_start": run_cold_start,
         "inject": run_inject, "restore_backup": run_restore}
JOBS: list = []
