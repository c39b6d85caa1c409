"""Server configuration (seed 004): read, and patch partially with validation."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.chat.config import service as server_config
from chalicelib.domain.server_config import FIELDS, SECTIONS
from chalicelib.http.routing import ANY_ADMIN, route
from chalicelib.http.schemas import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    STRING,
    UNIX_SECONDS,
    array,
    obj,
)

bp = Blueprint(__name__)

_TYPES = {bool: BOOLEAN, int: INTEGER, float: NUMBER, str: STRING}


def _field_schema(path: str) -> dict:
    spec = FIELDS[path]
    schema = dict(_TYPES[spec.type])
    if spec.min is not None:
        schema.update(minimum=spec.min, maximum=spec.max)
    if spec.read_only:
        schema["readOnly"] = True
    if spec.requires_restart:
        schema["description"] = "changing it requires a restart"
    return schema


def _section(section: str) -> dict:
    return {path.split(".", 1)[1]: _field_schema(path)
            for path in FIELDS if path.split(".", 1)[0] == section}


# The whole document: every section, every field of it (the defaults fill what no
# admin has patched).
CONFIG_ANSWER = obj({section: obj(_section(section)) for section in SECTIONS})
# A patch: any sections, any fields of them. The handler checks it (domain/server_config
# names every problem as INVALID_CONFIG, read-only fields and tier order included).
CONFIG_PATCH = {"type": "object", "additionalProperties": False, "properties": {
    section: {"type": "object", "additionalProperties": False, "properties": _section(section)}
    for section in SECTIONS}}
CONFIG_UPDATE_ANSWER = obj({
    "config_updated_at": UNIX_SECONDS,
    "updated_by": {**STRING, "description": "who patched: device address or operator email"},
    "updated_fields": {**array({"type": "string", "enum": list(FIELDS)}),
                       "description": "the fields whose value changed, sorted; [] when "
                                      "none did"},
    "requires_restart": BOOLEAN,
})


@route(bp, "/admin/v1/config", "GET", summary="Current server configuration",
       permission=ANY_ADMIN, response=CONFIG_ANSWER, tags=("config",))
def get_config(ctx):
    return server_config.current()


@route(bp, "/admin/v1/config", "PATCH", summary="Partial configuration update (validated)",
       permission="manage_config", body=CONFIG_PATCH, validate_body=False,
       response=CONFIG_UPDATE_ANSWER,
       audit="config_updated", rate_limit="config_updates", tags=("config",),
       errors=("INVALID_CONFIG", "CONFIG_CONFLICT"))
def patch_config(ctx):
    return server_config.update(ctx.act, ctx.body)
