"""Who may administer: operators in their table, devices in the TOML admin list."""
from __future__ import annotations

import os

from chalicelib.core import caches, settings
from chalicelib.domain import admin_list

_cache: dict = {}


def device_admins() -> dict[str, list[str]]:
    """The [server.admins] table, re-read when the file changes."""
    path = settings.get().server_config_file
    try:
        mtime = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return {}
    if _cache.get("key") != (path, mtime):
        with open(path, encoding="utf-8") as fh:
            _cache["admins"] = admin_list.parse(fh.read())
        _cache["key"] = (path, mtime)
    return _cache["admins"]


def device_permissions(address: str) -> list[str] | None:
    return device_admins().get(address.lower())


def forget() -> None:
    """Read the file again on the next use (a write within the file clock's resolution)."""
    _cache.clear()


caches.register("admin_list", forget)
