"""JSON Schema fragments that several routes' bodies and answers share."""
from __future__ import annotations

from chalicelib.domain.devices import ADDRESS_PATTERN
from chalicelib.domain.environments import ENVIRONMENTS

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}
ANY = {}
COUNT = {"type": "integer", "minimum": 0}
UNIX_SECONDS = {"type": "integer", "minimum": 0, "description": "unix seconds"}
UNIX_TIME = {"type": "number", "minimum": 0, "description": "unix seconds, fractional"}
ISO_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC"}
ENVIRONMENT = {"type": "string", "enum": list(ENVIRONMENTS)}
DEVICE_ADDRESS = {"type": "string", "pattern": ADDRESS_PATTERN,
                  "description": "<32 hex device id>@<server name>"}


def nullable(schema: dict) -> dict:
    """`schema` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict, optional: dict | None = None, *, closed: bool = False) -> dict:
    """An object whose `required` properties are always there and `optional` ones may
    be; closed objects allow no other property."""
    schema = {"type": "object", "required": sorted(required),
              "properties": {**required, **(optional or {})}}
    if closed:
        schema["additionalProperties"] = False
    return schema


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


def data_ok(required: dict, optional: dict | None = None) -> dict:
    """An answer of the data plane: {"ok": true, ...}."""
    return obj({"ok": {"const": True}, **required}, optional)


# --- long jobs (chalicelib/store/jobs.py): the answer of every 202 and of status_url ---
JOB_KINDS = ("import", "import_jsonl", "cold_start", "inject", "restore_backup",
             "root_checkpoint")
JOB_ID = {"type": "string", "pattern": "^job_[0-9]{13}[0-9a-f]{12}$"}
JOB_STATUSES = ("pending", "running", "completed", "failed")
JOB_STATUS = {"type": "string", "enum": list(JOB_STATUSES)}
JOB_ANSWER = obj({
    "id": JOB_ID, "kind": {"type": "string", "enum": list(JOB_KINDS)},
    "instance_id": STRING, "environment": ENVIRONMENT, "status": JOB_STATUS,
    "requested_at": ISO_TIME, "requested_by": STRING,
    "started_at": nullable(ISO_TIME), "updated_at": nullable(ISO_TIME),
    "completed_at": nullable(ISO_TIME),
    "params": {"type": "object", "description": "what was asked"},
    "progress": obj({
        "done": {**COUNT, "description": "items done (events, lines, aggregates)"},
        "total": nullable({**COUNT, "description": "items in all, once known"}),
        "bytes": {**COUNT, "description": "bytes read or written"},
        "percent": nullable({"type": "number", "minimum": 0}),
        "rate_per_second": nullable({"type": "number", "minimum": 0,
                                     "description": "items per second since it started"}),
    }),
    "result": nullable({"type": "object", "description": "what the job did, once completed"}),
    "error": nullable({**STRING, "description": "why it failed"}),
    "status_url": STRING,
})
JOB_ACCEPTED = obj({"job_id": JOB_ID, "status_url": STRING, "job": JOB_ANSWER})
