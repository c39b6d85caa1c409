"""The admin list: seed 004's TOML table [server.admins] (address -> permissions)."""
from __future__ import annotations

import tomllib

from chalicelib.domain.permissions import unknown


class AdminListError(ValueError):
    pass


def parse(text: str) -> dict[str, list[str]]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AdminListError(f"admin list is not valid TOML: {exc}") from exc
    admins = doc.get("server", {}).get("admins", {})
    if not isinstance(admins, dict):
        raise AdminListError("[server.admins] must be a table")
    result = {}
    for address, perms in admins.items():
        if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
            raise AdminListError(f"permissions of {address} must be a list of strings")
        bad = unknown(perms)
        if bad:
            raise AdminListError(f"unknown permissions for {address}: {', '.join(bad)}")
        result[address.lower()] = perms
    return result


def render(admins: dict[str, list[str]]) -> str:
    lines = ["[server.admins]", "# Full device address format: device_id_hex@server_domain"]
    for address, perms in admins.items():
        quoted = ", ".join(f'"{p}"' for p in perms)
        lines.append(f'"{address}" = [{quoted}]')
    return "\n".join(lines) + "\n"
