"""The permission table: what an admin may do, and the level it makes them."""
from __future__ import annotations

# Seed 004's six, for the chat server's administration.
SERVER_PERMISSIONS = (
    "view_metrics", "manage_config", "view_audit",
    "verify_devices", "block_federation", "modify_rate_limits",
)
# The platform's own, one per kind of act on instances.
PLATFORM_PERMISSIONS = (
    "view_instances", "manage_instances", "deploy_spec", "manage_keys",
    "manage_ops", "load_data", "erase_data",
)
ALL = "all"
PERMISSIONS = frozenset(SERVER_PERMISSIONS + PLATFORM_PERMISSIONS + (ALL,))

_MODERATOR = {"verify_devices", "block_federation", "modify_rate_limits"}
_ADMIN = {ALL, "manage_config"}


def admin_level(permissions) -> str:
    granted = set(permissions)
    if granted & _ADMIN:
        return "admin"
    if granted & _MODERATOR:
        return "moderator"
    return "viewer"


def allows(granted, needed: str) -> bool:
    return ALL in granted or needed in granted


def expand(permissions) -> list[str]:
    """The list a token reports: `all` spelled out as the seed's response shows."""
    granted = set(permissions)
    if ALL in granted:
        return list(SERVER_PERMISSIONS) + list(PLATFORM_PERMISSIONS) + [ALL]
    return [p for p in SERVER_PERMISSIONS + PLATFORM_PERMISSIONS if p in granted]


def unknown(permissions) -> list[str]:
    return sorted(set(permissions) - PERMISSIONS)
