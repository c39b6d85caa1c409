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
