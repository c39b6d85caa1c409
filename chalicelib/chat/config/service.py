"""The chat server's configuration: versioned in DynamoDB, patched without lost updates."""
from __future__ import annotations

from chalicelib.core import clock
from chalicelib.core import settings
from chalicelib.domain import server_config as schema
from chalicelib.core.errors import AppError
from chalicelib.identity.principal import Principal
from chalicelib.store.conditions import condition_failed
from chalicelib.store.tables import MetaItem

KEY = "server_config"
MAX_ATTEMPTS = 5


def _load() -> tuple[dict, int]:
    """(config, version); version 0 means the defaults, never written."""
    try:
        item = MetaItem.get(KEY, consistent_read=True)
        return item.value["config"], int(item.version)
    except MetaItem.DoesNotExist:
        return schema.default_config(settings.get().server_name), 0


def current() -> dict:
    return _load()[0]


def update(actor: Principal, patch) -> tuple[dict, dict]:
    """(answer, audit details). Validate and apply a partial update. A concurrent writer makes the conditional
    write fail; the patch is then re-validated and re-applied on the newer version."""
    from pynamodb.exceptions import PutError
    for _ in range(MAX_ATTEMPTS):
        config, version = _load()
        problems = schema.validate_patch(config, patch)
        if problems:
            raise AppError("INVALID_CONFIG",
                           f"Invalid configuration value: {problems[0]['message']}",
                           details=problems)
        result = schema.apply_patch(config, patch)
        now = clock.now_int()
        if result.updated_fields:
            item = MetaItem(key=KEY, version=version + 1,
                            value={"config": result.config, "updated_at": now,
                                   "updated_by": actor.subject})
            condition = (MetaItem.key.does_not_exist() if version == 0
                         else MetaItem.version == version)
            try:
                item.save(condition=condition)
            except PutError as exc:
                if condition_failed(exc):
                    continue
                raise
        answer = {"config_updated_at": now, "updated_by": actor.subject,
                  "updated_fields": result.updated_fields,
                  "requires_restart": result.requires_restart}
        return answer, {"updated_fields": result.updated_fields,
                        "old_values": result.old_values, "new_values": result.new_values}
    raise AppError("CONFIG_CONFLICT")
