"""adminctl: every admin act of the control plane from a terminal.

    adminctl --url http://127.0.0.1:8000 login --email admin@example.com
    adminctl instances list
    adminctl --json server health
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import click
from click.shell_completion import get_completion_class

from cli import __version__, device, output
from cli.core import AdminGroup, State, command, confirm, jwt_claims, state, yes_option
from cli.http import ApiError
from cli.profile import write_private


@click.group(cls=AdminGroup, context_settings={"help_option_names": ["-h", "--help"],
                                               "max_content_width": 100})
@click.option("--url", envvar="ADMINCTL_URL", metavar="URL",
              help="Base URL of the control plane (env ADMINCTL_URL; else the profile's).")
@click.option("--profile", "profile_path", envvar="ADMINCTL_PROFILE", metavar="FILE",
              help="Profile file (env ADMINCTL_PROFILE; default ~/.config/adminctl/profile.json).")
@click.option("--json", "as_json", is_flag=True, help="Print raw JSON answers (for scripts).")
@click.version_option(__version__, prog_name="adminctl")
@click.pass_context
def cli(ctx, url, profile_path, as_json):
    """Command-line client of the admin control plane's HTTP API.

    Exit status: 0 on success, 1 on an API error (its code and message are printed),
    2 on bad usage."""
    ctx.obj = State(url, profile_path, as_json)


# --- sessions --------------------------------------------------------------------------

def _save_session(st: State, answer: dict, kind: str, subject: str, **extra) -> None:
    claims = jwt_claims(answer.get("admin_token"))
    st.save_profile(url=st.url, token=answer["admin_token"], expires_at=answer.get("expires_at"),
                    kind=kind, subject=subject, permissions=answer.get("permissions"),
                    admin_level=answer.get("admin_level"),
                    server_name=claims.get("iss") or st.profile.get("server_name"), **extra)


def _session_text(st: State, answer: dict) -> str:
    return (f"Logged in as {st.profile.get('subject')} ({answer.get('admin_level')}) at {st.url}\n"
            f"token expires {output.when(answer.get('expires_at'))}; saved to {st.profile_path}")


@command(cli)
@click.option("--email", envvar="ADMINCTL_EMAIL", help="Operator email (env ADMINCTL_EMAIL).")
def login(email):
    """Operator login. The password is prompted (hidden), or read from ADMINCTL_PASSWORD."""
    st = state()
    if not email:
        email = click.prompt("Email", err=True)
    password = os.environ.get("ADMINCTL_PASSWORD")
    if password is None:
        password = click.prompt("Password", hide_input=True, err=True)
    answer = st.client(auth=False).post("/api/login", {"email": email, "password": password})
    _save_session(st, answer, "operator", email)
    st.emit(answer, lambda a: _session_text(st, a))


@command(cli)
def logout():
    """End the session (every token of it stops working) and forget the token."""
    st = state()
    client = st.client()
    try:
        answer = client.post("/admin/v1/auth/logout")
    except ApiError as exc:
        if exc.status != 401:
            raise
        answer = {"logged_out": True, "note": f"the session had already ended ({exc.name})"}
    st.save_profile(token=None, expires_at=None, permissions=None, admin_level=None)
    st.emit(answer, lambda a: "Logged out; the token was removed from the profile.")


@command(cli)
def whoami():
    """Who the saved token is, and whether its session is still valid."""
    st = state()
    client = st.client()
    claims = jwt_claims(client.token)
    client.get("/admin/v1/config")  # any valid token may read it: proves the session
    info = {"url": st.url, "subject": claims.get("sub"), "kind": claims.get("kind", st.profile.get("kind")),
            "server_name": claims.get("iss"), "admin_level": claims.get("admin_level"),
            "permissions": claims.get("permissions"), "session": claims.get("sid"),
            "expires_at": claims.get("exp"), "profile": str(st.profile_path), "valid": True}
    st.emit(info, lambda i: output.keyvalues({**i, "expires_at": output.when(i["expires_at"]),
                                             "permissions": ", ".join(i["permissions"] or [])}))


@command(cli)
def refresh():
    """A new token in the same session (permissions re-read); saved to the profile."""
    st = state()
    answer = st.client().post("/admin/v1/auth/refresh")
    st.save_profile(token=answer["admin_token"], expires_at=answer.get("expires_at"),
                    permissions=answer.get("permissions"), admin_level=answer.get("admin_level"))
    st.emit(answer, lambda a: f"Token refreshed; expires {output.when(a.get('expires_at'))}")


# --- admin devices ---------------------------------------------------------------------

@cli.group("device")
def device_group():
    """Ed25519 admin devices: make a key, log in with it."""


def _server_name(st: State, explicit: str | None) -> str | None:
    """--server-name, else the profile's, else the saved token's issuer, else the API's
    config (needs a valid token)."""
    if explicit:
        return explicit
    if st.profile.get("server_name"):
        return st.profile["server_name"]
    iss = jwt_claims(st.token).get("iss")
    if iss:
        return iss
    if st.token and (st.url_option or st.profile.get("url")):
        try:
            config = st.client().get("/admin/v1/config")
            return ((config or {}).get("server") or {}).get("server_name")
        except ApiError:
            return None
    return None


server_name_option = click.option(
    "--server-name", envvar="ADMINCTL_SERVER_NAME",
    help="The chat server's name, the part after @ of a device address (env "
         "ADMINCTL_SERVER_NAME; else from the profile, the token or the API).")


@command(device_group, "keygen")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Key file to write (mode 0600): the hex of the 32-byte Ed25519 seed.")
@server_name_option
@click.option("--force", is_flag=True, help="Replace an existing key file (asks first).")
@yes_option
def device_keygen(out, server_name, force, yes):
    """Make a new admin device key and print its device address and public key.

    Add the address to [server.admins] in the server's config file and register the
    public key (POST /internal/devices) before logging in with it."""
    st = state()
    if Path(out).exists():
        if not force:
            raise click.UsageError(f"{out} exists; pass --force to replace it")
        confirm(yes, f"Replace the key in {out}? The device it holds can no longer log in.")
    name = _server_name(st, server_name)
    if not name:
        raise click.UsageError("the server name is unknown: pass --server-name (or log in first)")
    seed = device.new_seed()
    write_private(Path(out), seed.hex() + "\n")
    info = {"device_address": device.address(seed, name), "device_id": device.device_id(seed),
            "public_key": device.public_key(seed).hex(), "key_file": str(out)}
    st.emit(info)


@command(device_group, "login")
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Key file (hex Ed25519 seed), e.g. .local/admin_device.key.")
@server_name_option
def device_login(key_file, server_name):
    """Device login: fetch a challenge, sign it with the key, exchange it for a token."""
    st = state()
    mode = os.stat(key_file).st_mode & 0o777
    if mode & 0o077:
        click.echo(f"Warning: {key_file} is readable by others (mode {mode:o}); "
                   f"chmod 600 it", err=True)
    try:
        seed = device.parse_seed(Path(key_file).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--key") from None
    name = _server_name(st, server_name)
    if not name:
        raise click.UsageError("the server name is unknown: pass --server-name")
    client = st.client(auth=False)
    challenge = client.get("/admin/v1/auth/challenge")["challenge"]
    address = device.address(seed, name)
    answer = client.post("/admin/v1/auth", {
        "device_address": address, "challenge": challenge,
        "challenge_signature": device.sign(seed, challenge), "timestamp": int(time.time())})
    _save_session(st, answer, "device", address)
    st.emit(answer, lambda a: _session_text(st, a))


# --- shell completion ------------------------------------------------------------------

@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell):
    """Print the shell completion script.

    \b
      eval "$(adminctl completion bash)"     # ~/.bashrc
      eval "$(adminctl completion zsh)"      # ~/.zshrc
      adminctl completion fish > ~/.config/fish/completions/adminctl.fish"""
    cls = get_completion_class(shell)
    click.echo(cls(cli, {}, "adminctl", "_ADMINCTL_COMPLETE").source())


from cli import platform_cmds, ops_cmds, server_cmds  # noqa: E402  (they add their groups)

platform_cmds.register(cli)
ops_cmds.register(cli)
server_cmds.register(cli)


def main() -> None:
    cli(prog_name="adminctl")


if __name__ == "__main__":
    main()
