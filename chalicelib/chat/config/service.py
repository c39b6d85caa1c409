"""The chat server's configuration: versioned in DynamoDB, patched without lost updates."""
from __future__ import annotations

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.domain import server_config as schema
from chalicelib.identity import audit
from chalicelib.store import server_config as config_store
from chalicelib.store.tables import MetaItem

MAX_ATTEMPTS = 5


def current() -> dict:
    return config_store.current()


def update(act: audit.Act, patch) -> tuple[dict, audit.Note]:
    """Validate and apply a partial update; the new version and its audit entry (old and
    new values) are one transaction. A concurrent writer makes the conditional write
    fail; the patch is then re-validated and re-applied on the newer version."""
    for _ in range(MAX_ATTEMPTS):
        config, version = config_store.load()
        problems = schema.validate_patch(config, patch)
        if problems:
            raise AppError("INVALID_CONFIG",
                           f"Invalid configuration value: {problems[0]['message']}",
                           details=problems)
        result = schema.apply_patch(config, patch)
        now = clock.now_int()
        note = audit.Note("server_config", {"updated_fields": result.updated_fields,
                                            "old_values": result.old_values,
                                            "new_values": result.new_values})
        if result.updated_fields:
            item = MetaItem(key=config_store.KEY, version=version + 1,
                            value={"config": result.config, "updated_at": now,
                                   "updated_by": act.actor.subject})
            condition = (MetaItem.key.does_not_exist() if version == 0
                         else MetaItem.version == version)
            if not act.commit(note, lambda tx: tx.save(item, condition=condition)):
                continue  # another writer won: re-validate on its version
        answer = {"config_updated_at": now, "updated_by": act.actor.subject,
                  "updated_fields": result.updated_fields,
                  "requires_restart": result.requires_restart}
        return answer, note
    raise AppError("CONFIG_CONFLICT")
