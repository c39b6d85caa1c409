"""Reading an instance: every platform feature checks that the one it acts on exists."""
from __future__ import annotations

from chalicelib.core.errors import AppError
from chalicelib.store.tables import Instance


def load_instance(instance_id: str) -> Instance:
    try:
        return Instance.get(instance_id)
    except Instance.DoesNotExist:
        raise AppError("INSTANCE_NOT_FOUND")
