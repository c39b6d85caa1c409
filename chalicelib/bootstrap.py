"""First start of a deployment: secrets, the first operator, the first admin device.

Idempotent: run on every `make run` and after every deploy, it changes only what is
missing (and the node secret's hash, which follows NODE_SECRET)."""
from __future__ import annotations

import os
import secrets as _secrets
from dataclasses import dataclass

from chalicelib.chat.devices import service as devices
from chalicelib.core import clock, settings
from chalicelib.domain import admin_list
from chalicelib.domain.permissions import ALL
from chalicelib.identity import logins as auth
from chalicelib.identity import node_auth
from chalicelib.store import secrets
from chalicelib.store.conditions import save_if
from chalicelib.store.tables import MetaItem


@dataclass
class BootstrapResult:
    operator_created: bool
    device_address: str
    signing_key_created: bool
    bootstrapped_at: int


def run(admin_email: str, admin_password: str, admin_device_public_key: str,
        node_secret: str) -> BootstrapResult:
    signing_created = False
    if not secrets.exists("signing_key"):
        secrets.write("signing_key", _secrets.token_hex(32))
        signing_created = True
    secrets.write("node_secret", node_auth.hash_secret(node_secret))
    if not secrets.exists("webhook_key"):   # seals listener secrets (platform/webhooks)
        secrets.write("webhook_key", _secrets.token_hex(32))
    created = auth.create_operator(admin_email, admin_password, [ALL])
    device, _ = devices.register(admin_device_public_key)
    ensure_admin(device["device_address"], [ALL])
    return BootstrapResult(created, device["device_address"], signing_created, _mark_started())


def ensure_admin(address: str, permissions: list[str]) -> None:
    """Make sure the admin list names `address`; write the file if it has only admins."""
    path = settings.get().server_config_file
    admins: dict = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        admins = admin_list.parse(text)
        if address in admins:
            return
        import tomllib
        doc = tomllib.loads(text)
        if set(doc) - {"server"} or set(doc.get("server", {})) - {"admins"}:
            import logging  # the operator's own file: never rewritten, only told
            logging.getLogger(__name__).warning(
                "%s holds more than [server.admins]; it is left as it is. Add "
                '"%s" = ["all"] to it to make the bootstrap device an admin', path, address)
            return
    admins[address] = permissions
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(admin_list.render(admins))


def _mark_started() -> int:
    """The deployment's birth time (uptime counts from it); written once."""
    now = clock.now_int()
    if save_if(MetaItem(key="bootstrap", value={"bootstrapped_at": now}),
               MetaItem.key.does_not_exist()):
        return now
    return int(MetaItem.get("bootstrap").value["bootstrapped_at"])
