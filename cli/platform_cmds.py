"""instances, keys, spec and data: the platform admin API and the event data plane."""
from __future__ import annotations

import difflib
import json
from pathlib import Path

import click

from cli import output
from cli.core import (ENVIRONMENTS, command, confirm, json_argument, listing, print_next,
                      read_json_file, state, yes_option)
from cli.http import Client
from cli.parsing import iso_time, parse_duration, parse_ref, parse_time

INSTANCE_COLUMNS = ["id", "name", "plan", "tier", "created_at"]
KEY_COLUMNS = ["id", "name", "prefix", "scope", "environment", "created_at", "revoke_at",
               "revoked_at", "last_used_at"]

env_option = click.option("--env", "-e", "env", type=click.Choice(ENVIRONMENTS), default="prod",
                          show_default=True, envvar="ADMINCTL_ENV", help="Environment.")


def register(cli: click.Group) -> None:
    cli.add_command(instances)
    cli.add_command(keys)
    cli.add_command(spec)
    cli.add_command(data)


# --- instances -------------------------------------------------------------------------

@click.group()
def instances():
    """Instances of the event platform."""


@command(instances, "list")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--cursor", help="Page to start from (the previous page's next cursor).")
@click.option("--all", "all_pages", is_flag=True, help="Follow every page.")
def instances_list(limit, cursor, all_pages):
    """List instances."""
    st = state()
    client = st.client()
    answer = client.get("/api/instances", query={"limit": limit, "cursor": cursor})
    rows = list(answer["instances"])
    while all_pages and answer.get("next_cursor"):
        answer = client.get("/api/instances", query={"limit": limit, "cursor": answer["next_cursor"]})
        rows += answer["instances"]
    answer = {"instances": rows, "next_cursor": answer.get("next_cursor")}
    st.emit(answer, lambda a: listing(a["instances"], INSTANCE_COLUMNS))
    print_next(answer)


@command(instances, "create")
@click.argument("name")
@click.option("--plan", type=click.Choice(["free", "hobby", "pro", "scale"]), help="Plan (default free).")
def instances_create(name, plan):
    """Create an instance."""
    st = state()
    body = {"name": name}
    if plan:
        body["plan"] = plan
    st.emit(st.client().post("/api/instances", body))


@command(instances, "show")
@click.argument("instance_id")
def instances_show(instance_id):
    """An instance with its plan's limits and usage."""
    st = state()
    st.emit(st.client().get(f"/api/instances/{instance_id}"))


# --- keys ------------------------------------------------------------------------------

@click.group()
def keys():
    """API keys of an instance: create (shown once), rotate, schedule revocation, revoke."""


@command(keys, "list")
@click.argument("instance_id")
def keys_list(instance_id):
    """List an instance's keys (prefix only, never the key)."""
    st = state()
    st.emit(st.client().get(f"/api/instances/{instance_id}/keys"),
            lambda a: listing(a["keys"], KEY_COLUMNS))


def _shown_once(answer: dict) -> str:
    return (output.keyvalues(answer) + "\n\nThe key is shown once, here: store it now "
            "(only its prefix can be listed later).")


@command(keys, "create")
@click.argument("instance_id")
@click.option("--name", required=True, help="What the key is for.")
@click.option("--scope", type=click.Choice(["read", "write", "admin"]), required=True)
@env_option
def keys_create(instance_id, name, scope, env):
    """Create a key; its text is shown once."""
    st = state()
    answer = st.client().post(f"/api/instances/{instance_id}/keys",
                              {"name": name, "scope": scope, "environment": env})
    st.emit(answer, _shown_once)


@command(keys, "rotate")
@click.argument("key_id")
@click.option("--grace", default="0", show_default=True,
              help="How long the old key keeps working: seconds or 30s, 15m, 1h, 2d.")
def keys_rotate(key_id, grace):
    """A new key replaces this one (shown once); the old one ends after --grace."""
    st = state()
    seconds = int(parse_duration(grace))
    answer = st.client().post(f"/api/keys/{key_id}/rotate", {"grace_period_seconds": seconds})
    st.emit(answer, _shown_once)


@command(keys, "schedule-revocation")
@click.argument("key_id")
@click.option("--at", "at", required=True,
              help="When: ISO 8601 (2030-02-01T00:00:00Z), unix seconds, or from now (7d).")
def keys_schedule_revocation(key_id, at):
    """Revoke a key at a future time."""
    st = state()
    st.emit(st.client().post(f"/api/keys/{key_id}/schedule_revocation", {"revoke_at": iso_time(at)}))


@command(keys, "revoke")
@click.argument("key_id")
@yes_option
def keys_revoke(key_id, yes):
    """Revoke a key now: its very next use fails."""
    confirm(yes, f"Revoke API key {key_id}? Its next use will fail.")
    st = state()
    st.emit(st.client().delete(f"/api/keys/{key_id}"))


# --- spec ------------------------------------------------------------------------------

@click.group()
def spec():
    """Specs: deploy from a file, show, diff."""


def _spec_of(document) -> dict:
    """The spec in a file: a spec-reference file `{"spec": {...}}` or the bare spec."""
    if isinstance(document, dict) and isinstance(document.get("spec"), dict) \
            and "aggregate_types" not in document:
        return document["spec"]
    if not isinstance(document, dict):
        raise click.BadParameter("a spec file holds a JSON object")
    return document


@command(spec, "deploy")
@click.argument("instance_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@env_option
@click.option("--force", is_flag=True, help="Deploy even if it drops types with stored events "
                                              "(refused in prod).")
@yes_option
def spec_deploy(instance_id, file, env, force, yes):
    """Deploy the spec in FILE (JSON) to an environment."""
    st = state()
    body = {"environment": env, "spec": _spec_of(read_json_file(file))}
    if force:
        confirm(yes, f"Force the deploy to {env}? Event types with stored events may be orphaned.")
        body["force"] = True
    answer = st.client().post(f"/api/instances/{instance_id}/spec", body)
    st.emit(answer, lambda a: f"Deployed version {a['version']} to {a['environment']} "
                              f"at {a['deployed_at']}" + (f"; orphaned: {', '.join(a['orphaned'])}"
                                                         if a.get("orphaned") else ""))


@command(spec, "show")
@click.argument("instance_id")
@env_option
def spec_show(instance_id, env):
    """The spec in force: version, who deployed it, and the spec itself."""
    st = state()
    answer = st.client().get(f"/api/instances/{instance_id}/spec", query={"environment": env})

    def human(a):
        head = {k: v for k, v in a.items() if k != "spec"}
        return output.keyvalues(head) + "\n\n" + json.dumps(a["spec"], indent=2, sort_keys=True)
    st.emit(answer, human)


def _load_side(client_factory, ref: str, default_env: str):
    """A file path, or INSTANCE:ENV (or INSTANCE) for the spec deployed there."""
    if ref == "-" or Path(ref).exists():
        return _spec_of(read_json_file(ref)), ref
    instance, _, env = ref.partition(":")
    env = env or default_env
    if env not in ENVIRONMENTS:
        raise click.BadParameter(f"{ref!r}: neither a file nor INSTANCE:ENV")
    answer = client_factory().get(f"/api/instances/{instance}/spec", query={"environment": env})
    return answer["spec"], f"{instance}:{env} (version {answer['version']})"


def spec_diff_text(old: dict, new: dict, old_name: str, new_name: str) -> str:
    """A unified diff of two specs as canonical JSON (sorted keys, two-space indent)."""
    a = json.dumps(old, indent=2, sort_keys=True).splitlines(keepends=True)
    b = json.dumps(new, indent=2, sort_keys=True).splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, fromfile=old_name, tofile=new_name))


@command(spec, "diff")
@click.argument("old")
@click.argument("new", required=False)
@click.option("--instance", "-i", "instance_id", envvar="ADMINCTL_INSTANCE",
              help="With one file: diff the spec deployed on this instance against it.")
@env_option
def spec_diff(old, new, instance_id, env):
    """Diff two specs. Each side is a file or INSTANCE:ENV (the spec deployed there).

    \b
      adminctl spec diff old.json new.json
      adminctl spec diff INSTANCE:staging INSTANCE:prod
      adminctl spec diff new.json -i INSTANCE -e prod    (deployed -> file)

    The API keeps only the spec in force per environment, so versions are compared
    through files and environments."""
    st = state()
    if new is None:
        if not instance_id:
            raise click.UsageError("give two specs, or one file and --instance")
        old, new = f"{instance_id}:{env}", old
    left, left_name = _load_side(st.client, old, env)
    right, right_name = _load_side(st.client, new, env)
    text = spec_diff_text(left, right, left_name, right_name)
    st.emit({"old": left_name, "new": right_name, "identical": not text, "diff": text},
            lambda a: a["diff"].rstrip("\n") if a["diff"] else "The specs are identical.")


# --- data plane ------------------------------------------------------------------------

@click.group()
def data():
    """The event data plane, with an API key (--api-key or ADMINCTL_API_KEY)."""


api_key_option = click.option("--api-key", envvar="ADMINCTL_API_KEY", required=True,
                              help="API key of the instance environment (env ADMINCTL_API_KEY).")


def _data_client(api_key: str) -> Client:
    return Client(state().url, api_key)


@command(data, "check")
@api_key_option
def data_check(api_key):
    """Which instance, environment and scope the key has."""
    state().emit(_data_client(api_key).get("/data"))


@command(data, "write")
@click.argument("agg_type")
@click.argument("agg_id")
@click.argument("event_type")
@click.option("--data", "payload", default="{}", show_default=True,
              help="The event's data: JSON, or @FILE.")
@click.option("--actor", required=True, help="type:id of the actor, e.g. user:<uuid>.")
@click.option("--target", help="type:id of the target.")
@click.option("--previous-length", type=int, help="Fail (409) unless the stream has this length.")
@click.option("--idempotency-key", help="X-Idempotency-Key: a retry returns the first answer.")
@api_key_option
def data_write(agg_type, agg_id, event_type, payload, actor, target, previous_length,
               idempotency_key, api_key):
    """Append one event."""
    metadata = {"actor": parse_ref(actor)}
    if target:
        metadata["target"] = parse_ref(target, "target")
    if previous_length is not None:
        metadata["previous_length"] = previous_length
    headers = {"X-Idempotency-Key": idempotency_key} if idempotency_key else None
    answer = _data_client(api_key).post(f"/data/{agg_type}/{agg_id}/{event_type}",
                                        {"data": json_argument(payload), "metadata": metadata},
                                        headers=headers)
    state().emit(answer)


@command(data, "read")
@click.argument("agg_type")
@click.argument("agg_id")
@click.option("--at", "at", help="The state as of a time: unix seconds, ISO 8601, or ago (1h).")
@api_key_option
def data_read(agg_type, agg_id, at, api_key):
    """An aggregate's state."""
    answer = _data_client(api_key).get(f"/data/{agg_type}/{agg_id}",
                                       query={"at": parse_time(at) if at else None})
    state().emit(answer, lambda a: output.keyvalues(a.get("metadata") or {}) + "\n\n"
                 + json.dumps(a.get("data"), indent=2, sort_keys=True))


@command(data, "events")
@click.argument("agg_type")
@click.argument("agg_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--cursor")
@api_key_option
def data_events(agg_type, agg_id, limit, cursor, api_key):
    """An aggregate's events, in order."""
    answer = _data_client(api_key).get(f"/data/{agg_type}/{agg_id}/events",
                                       query={"limit": limit, "cursor": cursor})
    state().emit(answer, lambda a: listing([{**e, "timestamp": output.when(e.get("timestamp"))}
                                            for e in a.get("events", [])],
                                           ["position", "type", "timestamp", "data", "metadata.actor"]))
    print_next(answer)


@command(data, "length")
@click.argument("agg_type")
@click.argument("agg_id")
@api_key_option
def data_length(agg_type, agg_id, api_key):
    """How many events an aggregate's stream holds."""
    answer = _data_client(api_key).get(f"/data/{agg_type}/{agg_id}/length")
    state().emit(answer, lambda a: str(a.get("length", a)))
