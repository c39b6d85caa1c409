"""What every command shares: the state (URL, profile, token, --json), error handling and
the option decorators."""
from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import click

from cli import output, profile
from cli.http import ApiError, Client, TransportError
from cli.parsing import ParseError

ENVIRONMENTS = ["prod", "staging", "test"]


class State:
    def __init__(self, url: str | None, profile_path: str | None, as_json: bool):
        self.url_option = url
        self.profile_path = Path(profile_path).expanduser() if profile_path else profile.default_path()
        self.json = as_json
        self._profile: dict | None = None

    @property
    def profile(self) -> dict:
        if self._profile is None:
            self._profile = profile.load(self.profile_path)
        return self._profile

    def save_profile(self, **changes) -> None:
        data = dict(self.profile)
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        profile.save(self.profile_path, data)
        self._profile = data

    @property
    def url(self) -> str:
        url = self.url_option or self.profile.get("url")
        if not url:
            raise click.UsageError("no server URL: pass --url, set ADMINCTL_URL, or log in "
                                   "with --url once (it is kept in the profile)")
        return url.rstrip("/")

    @property
    def token(self) -> str | None:
        return os.environ.get("ADMINCTL_TOKEN") or self.profile.get("token")

    def client(self, auth: bool = True) -> Client:
        url = self.url
        token = None
        if auth:
            token = self.token
            if not token:
                raise click.ClickException("not logged in: run `adminctl login` or "
                                           "`adminctl device login --key FILE` first")
        return Client(url, token)

    def emit(self, answer, human=None) -> None:
        """The raw JSON answer with --json; else `human(answer)` (a string or None)."""
        if self.json:
            output.echo_json(answer)
            return
        text = human(answer) if human else output.keyvalues(answer) if isinstance(answer, dict) \
            else output.dump_json(answer)
        if text:
            click.echo(text)


class ApiFailure(click.ClickException):
    """An API error: its code and message on stderr, exit status 1 (with --json, the
    error body also goes to stdout for scripts)."""
    exit_code = 1

    HINTS = {"TOKEN_EXPIRED": "log in again (adminctl login / adminctl device login)",
             "SESSION_REVOKED": "log in again (adminctl login / adminctl device login)",
             "UNAUTHENTICATED": "log in first (adminctl login / adminctl device login)",
             "RATE_LIMITED": "wait and retry"}

    def __init__(self, error: ApiError, as_json: bool):
        hint = self.HINTS.get(error.name)
        super().__init__(error.describe() + (f"\n  hint: {hint}" if hint else ""))
        self.error = error
        self.as_json = as_json

    def show(self, file=None) -> None:
        if self.as_json and self.error.body is not None:
            click.echo(output.dump_json(self.error.body))
        click.echo(f"Error: {self.format_message()}", err=True)


class AdminGroup(click.Group):
    """The root group: turns API, transport and parse errors into click's exits."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ApiError as exc:
            state = ctx.find_object(State)
            raise ApiFailure(exc, bool(state and state.json)) from None
        except TransportError as exc:
            raise click.ClickException(str(exc)) from None
        except ParseError as exc:
            raise click.UsageError(str(exc)) from None


def state() -> State:
    return click.get_current_context().find_object(State)


def _set_json(ctx, _param, value):
    if value:
        ctx.find_object(State).json = True


json_option = click.option("--json", "json_", is_flag=True, expose_value=False,
                           callback=_set_json, help="Print the raw JSON answer.")
yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


def command(group: click.Group, name: str | None = None, **kw):
    """A leaf command of `group` that takes --json."""
    def decorate(fn):
        return group.command(name, **kw)(json_option(fn))
    return decorate


def confirm(yes: bool, message: str) -> None:
    """Ask before a destructive act unless --yes; a refusal exits 1 with nothing done."""
    if not yes:
        click.confirm(message, abort=True, err=True)


def jwt_claims(token: str | None) -> dict:
    """The claims of a JWT, read without checking its signature (the server checks it)."""
    if not token or token.count(".") != 2:
        return {}
    payload = token.split(".")[1]
    try:
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return {}


def read_json_file(path: str):
    try:
        text = Path(path).read_text(encoding="utf-8") if path != "-" else sys.stdin.read()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"{path} is not JSON: {exc}") from None


def json_argument(text: str, what: str = "--data"):
    """A JSON value given inline or as @FILE."""
    if text.startswith("@"):
        return read_json_file(text[1:])
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"{what} is not JSON: {exc}") from None


def print_next(answer: dict) -> None:
    """A listing's next page, on stderr so the table on stdout stays clean."""
    cursor = answer.get("next_cursor") if isinstance(answer, dict) else None
    if cursor and not state().json:
        click.echo(f"(more: --cursor {cursor})", err=True)


def listing(rows: list, columns: list[str], empty: str = "(none)") -> str:
    if not rows:
        return empty
    return output.table(rows, columns)
