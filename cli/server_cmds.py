"""server (config, metrics, timeseries, export, audit, health, alerts), trust and
federation: the server administration API."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from cli import output
from cli.core import command, confirm, listing, state, yes_option
from cli.http import ApiError
from cli.parsing import build_patch, parse_time
from cli.profile import write_private

AUDIT_COLUMNS = ["timestamp", "action", "admin", "target", "details"]


def register(cli: click.Group) -> None:
    cli.add_command(server)
    cli.add_command(trust)
    cli.add_command(federation)


@click.group()
def server():
    """Server administration: config, metrics, audit, health, alerts."""


# --- config ----------------------------------------------------------------------------

@server.group()
def config():
    """Server configuration: get, set section.key=value."""


def _select(config_doc: dict, key: str | None):
    if not key:
        return config_doc
    node = config_doc
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise click.BadParameter(f"{key!r} is not in the configuration", param_hint="KEY")
        node = node[part]
    return node


@command(config, "get")
@click.argument("key", required=False)
def config_get(key):
    """The configuration, a section (`federation`) or one setting (`federation.enabled`)."""
    st = state()
    value = _select(st.client().get("/admin/v1/config"), key)
    st.emit(value, lambda v: output.keyvalues(v) if isinstance(v, dict) else output.cell(v))


@command(config, "set")
@click.argument("assignments", nargs=-1, required=True, metavar="SECTION.KEY=VALUE...")
def config_set(assignments):
    """Change settings (one PATCH). Values are typed: 15, true, 0.5, "text".

    \b
      adminctl server config set progressive_trust.new_tier_limit=15 federation.enabled=false
    """
    st = state()
    client = st.client()
    try:
        current = client.get("/admin/v1/config")
    except ApiError:
        current = None  # typed from the text alone
    body = build_patch(list(assignments), current)
    answer = client.patch("/admin/v1/config", body)
    st.emit(answer, lambda a: output.keyvalues({**a, "updated_fields": ", ".join(a.get("updated_fields") or [])}))


# --- metrics ---------------------------------------------------------------------------

PERIODS = click.Choice(["1h", "24h", "7d", "30d"])


@command(server, "metrics")
@click.option("--period", type=PERIODS, default="24h", show_default=True)
def metrics(period):
    """Server metrics over a period."""
    st = state()
    st.emit(st.client().get("/admin/v1/metrics", query={"period": period}))


@command(server, "timeseries")
@click.option("--metric", required=True, help="e.g. messages_sent (see the README's metrics table).")
@click.option("--period", type=PERIODS, default="24h", show_default=True)
@click.option("--interval", type=click.Choice(["5m", "1h", "1d"]), default="1h", show_default=True)
def timeseries(metric, period, interval):
    """One metric's data points."""
    st = state()
    answer = st.client().get("/admin/v1/metrics/timeseries",
                             query={"metric": metric, "period": period, "interval": interval})

    def human(a):
        rows = [{"time": output.when(p.get("timestamp")), "value": p.get("value")}
                for p in a.get("data_points") or []]
        extra = {k: v for k, v in a.items() if k not in ("data_points",)}
        return listing(rows, ["time", "value"]) + "\n\n" + output.keyvalues(extra)
    st.emit(answer, human)


def _write_or_echo(text: str, out: str | None, what: str) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"Wrote {what} to {out}", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))


@command(server, "export")
@click.option("--format", "fmt", type=click.Choice(["prometheus", "json", "csv"]),
              default="prometheus", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
def export(fmt, out):
    """Metrics in Prometheus text, JSON or CSV."""
    st = state()
    response = st.client().request("GET", "/admin/v1/metrics/export", query={"format": fmt})
    _write_or_echo(response.text, out, f"{fmt} metrics")


@command(server, "health")
def health():
    """Component health. Exit status 1 when the server answers unhealthy (503)."""
    st = state()
    response = st.client().request("GET", "/admin/v1/health", ok_statuses=(503,))
    answer = response.body
    if response.status == 503 and not (isinstance(answer, dict) and "components" in answer):
        raise ApiError(503, answer, response.text)

    def human(a):
        rows = [{"component": name, **(c or {})} for name, c in (a.get("components") or {}).items()]
        head = f"status: {a.get('status')}  version: {a.get('version')}  uptime: {a.get('uptime_seconds')} s"
        text = head + "\n\n" + listing(rows, ["component", "status", "latency_ms", "details"])
        for warning in a.get("warnings") or []:
            text += f"\nwarning: {warning}"
        return text
    st.emit(answer, human)
    if response.status == 503:
        sys.exit(1)


@command(server, "alerts")
def alerts():
    """Active alerts."""
    st = state()
    st.emit(st.client().get("/admin/v1/alerts"),
            lambda a: listing([{**x, "started_at": output.when(x.get("started_at"))}
                               for x in a.get("active_alerts") or []],
                              ["severity", "type", "message", "started_at"], "(no active alerts)"))


# --- audit -----------------------------------------------------------------------------

@server.group()
def audit():
    """The audit log: list (with filters, --follow) and export to a file."""


def filters(fn):
    for option in reversed([
        click.option("--since", help="Unix seconds, ISO 8601, or ago (1h, 7d). Default: 24 h ago."),
        click.option("--until", help="Unix seconds, ISO 8601, or ago."),
        click.option("--action", help="e.g. config_updated"),
        click.option("--admin", help="Who acted (email or device address)."),
        click.option("--target", help="What was acted on."),
    ]):
        fn = option(fn)
    return fn


def _filter_query(since, until, action, admin, target) -> dict:
    return {"since": parse_time(since) if since else None,
            "until": parse_time(until) if until else None,
            "action": action, "admin": admin, "target": target}


def _audit_rows(entries):
    return [{**e, "timestamp": output.when(e.get("timestamp"))} for e in entries]


@command(audit, "list")
@filters
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--follow", "-f", is_flag=True, help="Keep polling and print new entries as they come.")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds between polls.")
@click.option("--max-polls", type=int, hidden=True, help="Stop following after this many polls.")
@click.option("--stop-after", type=int, hidden=True, help="Stop following after this many entries.")
def audit_list(since, until, action, admin, target, limit, offset, follow, interval, max_polls,
               stop_after):
    """Audit entries, newest first (with --follow: oldest first, then new ones as they come;
    with --json, one entry per line)."""
    st = state()
    client = st.client()
    query = _filter_query(since, until, action, admin, target)
    answer = client.get("/admin/v1/audit", query={**query, "limit": limit, "offset": offset})
    if not follow:
        st.emit(answer, lambda a: listing(_audit_rows(a.get("entries") or []), AUDIT_COLUMNS)
                + (f"\n({a.get('total_count')} in all; next: --offset {a.get('next_offset')})"
                   if a.get("has_more") else ""))
        return
    seen: set[str] = set()
    widths = [20, 26, 30, 38]

    def show(entries):
        for entry in sorted(entries, key=lambda e: (e.get("timestamp") or 0, e.get("id"))):
            if entry.get("id") in seen:
                continue
            seen.add(entry.get("id"))
            if st.json:
                click.echo(json.dumps(entry, sort_keys=True))
            else:
                cells = [output.when(entry.get("timestamp")), entry.get("action"), entry.get("admin"),
                         entry.get("target")]
                line = "  ".join(output.cell(c, w).ljust(w) for c, w in zip(cells, widths))
                click.echo(f"{line}  {output.cell(entry.get('details'), 80)}".rstrip())
            sys.stdout.flush()

    if not st.json:
        click.echo("  ".join(h.ljust(w) for h, w in zip(["TIMESTAMP", "ACTION", "ADMIN", "TARGET"], widths))
                   + "  DETAILS")
    entries = answer.get("entries") or []
    show(entries)
    newest = max([e.get("timestamp") or 0 for e in entries], default=query["since"] or int(time.time()) - 60)
    polls = 0
    try:
        while (max_polls is None or polls < max_polls) and \
                (stop_after is None or len(seen) < stop_after):
            time.sleep(interval)
            polls += 1
            page = client.get("/admin/v1/audit", query={**query, "since": newest, "limit": 1000})
            fresh = page.get("entries") or []
            show(fresh)
            newest = max([e.get("timestamp") or 0 for e in fresh] + [newest])
    except KeyboardInterrupt:
        pass


@command(audit, "export")
@filters
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="File to write (mode 0600); default stdout.")
def audit_export(since, until, action, admin, target, fmt, out):
    """Export the audit entries that match, every page, as one CSV or JSON document."""
    st = state()
    client = st.client()
    query = {**_filter_query(since, until, action, admin, target), "format": fmt}
    cursor, pages, csv_text, entries = None, 0, "", []
    while True:
        response = client.request("GET", "/admin/v1/audit/export", query={**query, "cursor": cursor})
        pages += 1
        if fmt == "json":
            entries += (response.body or {}).get("entries") or []
        else:
            text = response.text
            if csv_text and "\n" in text:
                text = text.split("\n", 1)[1]  # the header once
            csv_text += text if text.endswith("\n") or not text else text + "\n"
        headers = {k.lower(): v for k, v in response.headers.items()}
        cursor = headers.get("x-next-cursor") or (
            (response.body or {}).get("next_cursor") if isinstance(response.body, dict) else None)
        if not cursor:
            break
    if fmt == "json":
        document = json.dumps({"entries": entries}, indent=2) + "\n"
        count = len(entries)
    else:
        document = csv_text
        count = max(len(csv_text.splitlines()) - 1, 0)
    if out:
        write_private(Path(out), document)
    summary = {"format": fmt, "entries": count, "pages": pages, "file": out}
    if out:
        st.emit(summary, lambda s: f"Wrote {s['entries']} entries ({s['pages']} pages) to {s['file']}")
    else:
        click.echo(document, nl=False)


# --- trust (moderation of devices) -----------------------------------------------------

@click.group()
def trust():
    """Device trust: verify, revoke, unblock, set a custom rate limit."""


@command(trust, "verify")
@click.argument("device_address")
@click.option("--reason", required=True)
def trust_verify(device_address, reason):
    """Mark a device verified."""
    st = state()
    st.emit(st.client().post("/admin/v1/trust/verify", {"device_address": device_address, "reason": reason}))


@command(trust, "revoke")
@click.argument("device_address")
@click.option("--reason", required=True)
@yes_option
def trust_revoke(device_address, reason, yes):
    """Revoke a device's verification."""
    confirm(yes, f"Revoke the verification of {device_address}?")
    st = state()
    st.emit(st.client().post("/admin/v1/trust/revoke", {"device_address": device_address, "reason": reason}))


@command(trust, "unblock")
@click.argument("device_address")
@click.option("--reason", required=True)
@yes_option
def trust_unblock(device_address, reason, yes):
    """Lift an automatic block of a device."""
    confirm(yes, f"Unblock {device_address}?")
    st = state()
    st.emit(st.client().post("/admin/v1/trust/unblock", {"device_address": device_address, "reason": reason}))


@command(trust, "set-rate-limit")
@click.argument("device_address")
@click.argument("limit", type=click.IntRange(0, 100000))
@click.option("--reason", required=True)
@click.option("--expires-at", help="When the custom limit ends: unix seconds, ISO 8601.")
def trust_set_rate_limit(device_address, limit, reason, expires_at):
    """Give a device a custom rate limit (messages per window)."""
    body = {"device_address": device_address, "custom_rate_limit": limit, "reason": reason}
    if expires_at:
        body["expires_at"] = parse_time(expires_at)
    st = state()
    st.emit(st.client().post("/admin/v1/trust/set-rate-limit", body))


# --- federation ------------------------------------------------------------------------

@click.group()
def federation():
    """Federation peers: block, unblock, list the blocked."""


@command(federation, "block")
@click.argument("domain")
@click.option("--reason", required=True)
@click.option("--expires-at", help="When the block ends: unix seconds, ISO 8601 (default never).")
def federation_block(domain, reason, expires_at):
    """Block a federated server."""
    body = {"domain": domain, "reason": reason}
    if expires_at:
        body["expires_at"] = parse_time(expires_at)
    st = state()
    st.emit(st.client().post("/admin/v1/federation/block", body))


@command(federation, "unblock")
@click.argument("domain")
@click.option("--reason")
@yes_option
def federation_unblock(domain, reason, yes):
    """Unblock a federated server."""
    confirm(yes, f"Unblock federation with {domain}?")
    body = {"domain": domain}
    if reason:
        body["reason"] = reason
    st = state()
    st.emit(st.client().post("/admin/v1/federation/unblock", body))


@command(federation, "list")
def federation_list():
    """Blocked peers, newest block first."""
    st = state()
    st.emit(st.client().get("/admin/v1/federation/blocked"),
            lambda a: listing([{**p, "blocked_at": output.when(p.get("blocked_at")),
                                "expires_at": output.when(p.get("expires_at"))}
                               for p in a.get("blocked_peers") or []],
                              ["domain", "blocked_at", "blocked_by", "expires_at", "auto_blocked", "reason"],
                              "(no blocked peers)"))
