"""Who is acting: an operator, an admin device, a worker node, an API key or the scheduler."""
from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain import permissions as perms


@dataclass(frozen=True)
class Principal:
    subject: str                 # operator email, device address, "node", key id, "system:..."
    kind: str                    # operator | device | node | api_key | system
    permissions: tuple = ()
    sid: str | None = None
    token_exp: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def admin_level(self) -> str:
        return perms.admin_level(self.permissions)

    def may(self, permission: str) -> bool:
        return perms.allows(self.permissions, permission)


SCHEDULER = Principal(subject="system:scheduler", kind="system", permissions=(perms.ALL,))


@dataclass(frozen=True)
class Origin:
    """Where a request came from, for the audit trail."""
    ip_address: str | None = None
    user_agent: str | None = None
