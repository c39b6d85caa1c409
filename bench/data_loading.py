"""Data loading: import events through `import_jsonl` (a presigned upload) and export them,
at 10k and 100k events (1M with --full).

    python -m bench.data_loading               # 10k and 100k events
    python -m bench.data_loading --full        # and 1M (long: see the printed rates)
    python -m bench.data_loading --sizes 5000  # any sizes

Each size runs in a fresh interpreter against moto's server in a process of its own
(`--moto-server`: as under `make run`, one request at a time, transactions backing up only
the items they name; see moto_server_main), so the interpreter's peak RSS is the
loader's own memory and not moto's copy of the data. Provisioning and bootstrap run in a
third process (setup_main):

1. the input is written to a file first, in the export's shape: `order` aggregates of
   100 events (created, 98 item_added, closed) with their positions and historical
   created_at, aggregate ids humane codes (`0RDxxxxxx`, in export order);
2. import: `POST /api/instances/{id}/ops/staging/import_jsonl/uploads` (chalice.test
   Client), the file PUT to the presigned URL (streamed from disk), `POST .../import_jsonl
   {"upload_id"}`, then local/consumer.drain() runs the queued job (loader.py) to the end;
3. export: every page of `GET /internal/instances/{id}/staging/export` (node secret),
   written to a file and checked line by line against the input (same events, same
   order, positions 0..99 in each stream).

Reported: events per second (wall time of the job, both loader passes, without the
upload's PUT; of the export, all pages), DynamoDB calls per 1,000 events by operation
(every call of the process in that phase, the job's own bookkeeping included; target for
the import: at most 45), and RSS: cold, warm (after a warm-up load of one aggregate into
another environment), the peak during the import and during the export (psutil sampled
every 20 ms) and the interpreter's ru_maxrss. moto is in another process: its time is in
the rates (over HTTP on the loopback), its memory is not in the RSS.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import table, title  # noqa: E402

ENV = "staging"
PER_AGGREGATE = 100
ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"   # in ASCII order: ids sort as numbers
DEFAULT_SIZES = (10_000, 100_000)
FULL_SIZE = 1_000_000
CALL_TARGET = 45
RSS_TARGET_MB = 200
BASE_TIME = 1_700_000_000


# --------------------------------------------------------------------------- input

def aggregate_id(n: int) -> str:
    """A humane code (9 Crockford base32 characters), increasing with n."""
    digits = []
    for _ in range(6):
        n, r = divmod(n, 32)
        digits.append(CROCKFORD[r])
    return "0RD" + "".join(reversed(digits))


def event_at(agg: int, position: int) -> dict:
    """The export-shaped line of event `position` of aggregate `agg`."""
    if position == 0:
        event_type, data = "created", {"customer": f"C{agg:08d}", "total": agg % 1000}
    elif position == PER_AGGREGATE - 1:
        event_type, data = "closed", {"reason": "delivered"}
    else:
        event_type, data = "item_added", {"sku": f"SKU-{position:03d}", "qty": 1 + position % 3}
    return {"aggregate_type": "order", "aggregate_id": aggregate_id(agg), "position": position,
            "event_type": event_type, "data": data, "metadata": ACTOR,
            "created_at": BASE_TIME + agg * 1000 + position}


def write_input(path: Path, events: int) -> int:
    """The input file, streamed to disk; its size in bytes."""
    with open(path, "w") as fh:
        for i in range(events):
            agg, position = divmod(i, PER_AGGREGATE)
            fh.write(json.dumps(event_at(agg, position), separators=(",", ":")) + "\n")
    return path.stat().st_size


# --------------------------------------------------------------------------- moto

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_server_main(port: int, stock_query: bool, threaded: bool) -> int:
    """moto's server for this bench: as under `make run` (local/moto_server.py: one
    request at a time, unless `threaded`; a transaction backs up only the items it
    names), plus, unless stock_query,
    bench/device_metrics' fast_moto: a Query on a table's own key starts from its
    partition instead of sorting the whole table (moto 5.x's Query is O(table);
    DynamoDB's is O(page)). Answers are unchanged; only moto's time per Query drops.
    Also: the heap is frozen every 5 s (see freeze_heap)."""
    import os as _os

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from local import moto_server
    parent = _os.getppid()

    def exit_with_parent():
        while True:
            time.sleep(1.0)
            if _os.getppid() != parent:
                _os._exit(0)
    threading.Thread(target=exit_with_parent, daemon=True).start()

    def freeze_heap():
        # moto keeps every item as Python objects: at a million events its heap holds tens
        # of millions of them, and without this the server answered past the app's 2 s
        # read timeout (most likely in full collections). Objects that lived a few seconds
        # are moved out of the collector's reach (gc.freeze); younger ones are collected
        # as usual.
        import gc
        while True:
            time.sleep(5.0)
            gc.freeze()
    threading.Thread(target=freeze_heap, daemon=True).start()
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_server.cheap_transaction_rollback()
    with contextlib.ExitStack() as stack:
        if not stock_query:
            from bench.device_metrics import fast_moto
            stack.enter_context(fast_moto())
        server = make_server("127.0.0.1", port, DomainDispatcherApplication(create_backend_app),
                             threaded=threaded, request_handler=MotoRequestHandler)
        print(f"{moto_server.READY_LINE} http://127.0.0.1:{port}", flush=True)
        server.serve_forever()
    return 0


@contextlib.contextmanager
def moto_process(stock_query: bool, threaded: bool):
    port = _free_port()
    args = [sys.executable, "-m", "bench.data_loading", "--moto-server", str(port)]
    if stock_query:
        args.append("--stock-query")
    if threaded:
        args.append("--threaded-moto")
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if "listening" not in line:
            raise SystemExit(f"bench: moto's server did not start: {line!r}")
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# --------------------------------------------------------------------------- memory

class RssSampler:
    """Peak resident set size of this process per phase, sampled every 20 ms."""

    def __init__(self):
        import psutil
        self._proc = psutil.Process()
        self.phase = None
        self.peaks: dict = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        return self._proc.memory_info().rss

    def _run(self):
        while not self._stop.wait(0.02):
            phase = self.phase
            if phase is not None:
                self.peaks[phase] = max(self.peaks.get(phase, 0), self.rss())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def start(self, phase: str) -> None:
        self.peaks[phase] = self.rss()
        self.phase = phase

    def stop(self) -> None:
        if self.phase is not None:
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), self.rss())
        self.phase = None


def _max_rss() -> int:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # KB on Linux


# --------------------------------------------------------------------------- one size

class Trouble:
    """botocore's retries (ResponseMetadata.RetryAttempts) and the calls that failed
    after them, by exception type, while installed."""

    def __init__(self):
        self.retries, self.errors = 0, Counter()

    def __enter__(self):
        from botocore.client import BaseClient
        original = BaseClient._make_api_call
        me = self

        def watched(client, operation_name, api_params):
            try:
                answer = original(client, operation_name, api_params)
            except Exception as exc:
                me.errors[f"{operation_name}: {type(exc).__name__}"] += 1
                raise
            me.retries += int((answer.get("ResponseMetadata") or {}).get("RetryAttempts") or 0)
            return answer

        self._original = original
        BaseClient._make_api_call = watched
        return self

    def __exit__(self, *exc):
        from botocore.client import BaseClient
        BaseClient._make_api_call = self._original

    def take(self) -> dict:
        out = {"retries": self.retries, "errors": dict(self.errors)}
        self.retries, self.errors = 0, Counter()
        return out


def _phase_timers():
    """Time spent in the loader's two passes (wrapping loader._validate / _apply)."""
    from chalicelib.platform.imports import loader
    spent: Counter = Counter()
    originals = {}
    for name in ("_validate", "_apply"):
        original = getattr(loader, name)
        originals[name] = original

        def timed(*args, _original=original, _name=name, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_name] += time.perf_counter() - started
        setattr(loader, name, timed)
    return spent, originals


def setup_main(url: str) -> int:
    """In a process of its own: every table, bucket and queue created, bootstrap run, an
    instance with ORDER_SPEC in staging; prints the operator token and the instance id.
    (Provisioning touches every PynamoDB model, and PynamoDB gives each model its own
    botocore session and client, about 10 MB each: done here, it stays out of the
    measured process, which then holds only the models its requests use, as a Lambda
    container does.)"""
    import testing.env  # noqa: F401 - the test environment before project imports
    os.environ["AWS_ENDPOINT_URL"] = url
    from chalicelib.core import settings
    from chalicelib.store import aws
    from chalicelib.store.base import rebind
    from chalicelib.store.provision import provision
    from chalicelib.store.tables import TABLES
    from testing.specs import ORDER_SPEC
    from testing.stack import bootstrapped
    settings.reset()
    aws.reset()
    rebind(TABLES)
    provision()
    with bootstrapped() as stack:
        token = stack.operator_token()
        inst = stack.call("POST", "/api/instances", token,
                          body={"name": "bench", "plan": "scale"}).json["id"]
        for env in (ENV, "test"):      # test: the warm-up load's
            deployed = stack.call("POST", f"/api/instances/{inst}/spec", token,
                                  body={"environment": env, "spec": ORDER_SPEC})
            assert deployed.status in (200, 201), deployed
    print("SETUP " + json.dumps({"token": token, "instance": inst}), flush=True)
    return 0


def _set_up(url: str) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-m", "bench.data_loading", "--setup", url],
                          cwd=ROOT, capture_output=True, text=True)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("SETUP ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"bench: setup failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    got = json.loads(lines[-1][len("SETUP "):])
    return got["token"], got["instance"]


def _models_in_use() -> int:
    """PynamoDB models that made a connection in this process (each its own botocore
    session and client)."""
    from chalicelib.store.tables import TABLES
    return sum(1 for m in TABLES if getattr(m, "_connection", None) is not None)


def child(events: int, path: Path, stock_query: bool, threaded: bool) -> dict:
    """One size, in this (fresh) interpreter: import then export; the figures as a dict."""
    import testing.env  # noqa: F401 - the test environment before project imports
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    import requests

    from bench.event_store import Calls
    with moto_process(stock_query, threaded) as (url, server), RssSampler() as rss:
        token, inst = _set_up(url)
        os.environ["AWS_ENDPOINT_URL"] = url
        from chalice.test import Client

        import app as app_module
        from chalicelib.core import caches, settings
        from chalicelib.store import aws
        from chalicelib.store.base import rebind
        from chalicelib.store.tables import TABLES
        from local import consumer, gateway
        from testing.stack import Stack
        settings.reset()
        aws.reset()
        rebind(TABLES)
        caches.clear_all()
        gateway.apply()
        out = {"events": events, "file_bytes": path.stat().st_size}
        with Client(app_module.app) as client, Calls() as counter, Trouble() as trouble:
            stack = Stack(client)
            out["rss_cold"] = rss.rss()
            warm_up(stack, token, inst, consumer)
            ops = f"/api/instances/{inst}/ops/{ENV}"
            spent, _ = _phase_timers()

            # --- import
            import gc
            gc.collect()
            out["rss_before"] = rss.rss()
            counter.take()
            trouble.take()
            rss.start("import")
            started = time.perf_counter()
            upload = stack.call("POST", f"{ops}/import_jsonl/uploads", token)
            assert upload.status == 201, upload
            with open(path, "rb") as fh:
                put = requests.put(upload.json["url"], data=fh,
                                   headers=upload.json["headers"], timeout=600)
            assert put.status_code == 200, put.text[:300]
            uploaded = time.perf_counter()
            answer = stack.call("POST", f"{ops}/import_jsonl", token,
                                body={"upload_id": upload.json["upload_id"]})
            assert answer.status == 202, answer
            job = None
            while True:
                consumer.drain()
                job = stack.call("GET", answer.json["status_url"], token).json
                if job["status"] in ("completed", "failed"):
                    break
                time.sleep(0.2)
            finished = time.perf_counter()
            rss.stop()
            out["max_rss_after_import"] = _max_rss()
            out["models_after_import"] = _models_in_use()
            if job["status"] != "completed":
                raise SystemExit(f"bench: the import did not complete: {job}")
            from chalicelib.store.keys import scope_key
            from chalicelib.store.tables import Job
            stored = Job.get(scope_key(inst, ENV), answer.json["job_id"], consistent_read=True)
            out["import"] = {"seconds": finished - uploaded, "upload_s": uploaded - started,
                             "validate_s": spent["_validate"], "apply_s": spent["_apply"],
                             **_calls(counter.take()), "job": job,
                             "slices": int(stored.slices or 0),
                             "crashes": int(stored.crashes or 0), **trouble.take()}

            # --- export
            gc.collect()
            rss.start("export")
            started = time.perf_counter()
            exported = path.with_suffix(".export.jsonl")
            cursor, pages, lines = None, 0, 0
            with open(exported, "w") as fh:
                while True:
                    query = f"?cursor={cursor}" if cursor else ""
                    page = stack.node("GET", f"/internal/instances/{inst}/{ENV}/export{query}")
                    assert page.status == 200, page
                    fh.write(page.text)
                    pages += 1
                    lines += int(page.headers.get("X-Export-Count", 0))
                    cursor = page.headers.get("X-Next-Cursor")
                    if not cursor:
                        break
            seconds = time.perf_counter() - started
            rss.stop()
            out["export"] = {"seconds": seconds, "pages": pages, "lines": lines,
                             **_calls(counter.take()), **trouble.take()}
            out["export_check"] = _check_export(path, exported)
        out["rss_peaks"] = rss.peaks
        out["models_at_end"] = _models_in_use()
        out["max_rss"] = _max_rss()
        import psutil
        out["moto_rss"] = psutil.Process(server.pid).memory_info().rss
        exported.unlink(missing_ok=True)
    return out


def _calls(taken) -> dict:
    calls, _, seconds = taken
    return {"calls": {f"{svc}:{op}": n for (svc, op), n in calls.items()},
            "aws_s": seconds}


def warm_up(stack, token: str, inst: str, consumer) -> None:
    """One aggregate imported into and exported from the `test` environment, so that the
    measured load starts in a warm container: every model, client and code path the
    import and the export use is loaded (the first use of each PynamoDB model costs
    about 10 MB, once per container)."""
    ops = f"/api/instances/{inst}/ops/test"
    body = "".join(json.dumps(event_at(0, p), separators=(",", ":")) + "\n"
                   for p in range(PER_AGGREGATE)).encode()
    answer = stack.call("POST", f"{ops}/import_jsonl", token, raw_body=body,
                        headers={"Content-Type": "application/x-ndjson"})
    assert answer.status == 202, answer
    consumer.drain()
    job = stack.call("GET", answer.json["status_url"], token).json
    assert job["status"] == "completed", job
    upload = stack.call("POST", f"{ops}/import_jsonl/uploads", token)
    assert upload.status == 201, upload
    page = stack.node("GET", f"/internal/instances/{inst}/test/export")
    assert page.status == 200 and page.text.count("\n") == PER_AGGREGATE, page


def _check_export(source: Path, exported: Path) -> str:
    """The export holds the input's events in its order: same type, id, position, event
    type, data, metadata and created_at; plus the hashes the import computed."""
    n = 0
    with open(source) as a, open(exported) as b:
        for n, (want, got) in enumerate(zip(a, b), 1):
            want, got = json.loads(want), json.loads(got)
            for name in ("aggregate_type", "aggregate_id", "position", "event_type", "data",
                         "metadata", "created_at"):
                if want[name] != got[name]:
                    return f"line {n}: {name} differs ({want[name]!r} != {got[name]!r})"
            if not (got.get("content_hash") and got.get("chain_hash")):
                return f"line {n}: no hashes"
        if a.readline() or b.readline():
            return f"lengths differ after line {n}"
    return f"ok ({n:,} lines equal)"


# --------------------------------------------------------------------------- report

def _dynamo(calls: dict) -> Counter:
    return Counter({k.split(":", 1)[1]: v for k, v in calls.items() if k.startswith("dynamodb:")})


SERVING = {True: "in threads (--threaded-moto)",
           False: "one request at a time, as under `make run`"}
QUERY_NOTE = {
    True: "moto's own Query (it sorts the whole table on every call in moto 5.x)",
    False: "moto's Query made to start from the queried partition (bench/device_metrics.py\n"
           "fast_moto; moto 5.x sorts the whole table on every Query): answers unchanged, "
           "only moto's time",
}


def report(results: list[dict], stock_query: bool, threaded: bool = False) -> None:
    title("Data loading: import_jsonl (presigned upload, queued job) and export, "
          "moto's server in its own process")
    rows = []
    for r in results:
        n = r["events"]
        imp, exp = r["import"], r["export"]
        imp_calls = sum(_dynamo(imp["calls"]).values())
        exp_calls = sum(_dynamo(exp["calls"]).values())
        rows.append([f"{n:,}", f"{r['file_bytes'] / 1e6:.1f}",
                     f"{n / imp['seconds']:,.0f}", f"{imp['seconds'] * 1e6 / n:,.0f}",
                     f"{imp['validate_s']:.1f} / {imp['apply_s']:.1f}",
                     f"{imp_calls * 1000 / n:.1f}",
                     "OK" if imp_calls * 1000 / n <= CALL_TARGET else "MISSED",
                     f"{imp['aws_s'] / imp['seconds'] * 100:.0f}%",
                     f"{n / exp['seconds']:,.0f}", f"{exp['seconds'] * 1e6 / n:,.0f}",
                     exp["pages"], f"{exp_calls * 1000 / n:.1f}",
                     f"{exp['aws_s'] / exp['seconds'] * 100:.0f}%"])
    print(table(["events", "file MB", "import ev/s", "import us/ev", "validate / apply s",
                 "DDB calls /1k", f"<= {CALL_TARGET}", "in AWS calls", "export ev/s",
                 "export us/ev", "pages", "DDB calls /1k", "in AWS calls"], rows,
                right=tuple(range(13))))

    title("DynamoDB calls per 1,000 events, by operation")
    ops = sorted({op for r in results for phase in ("import", "export")
                  for op in _dynamo(r[phase]["calls"])})
    rows = []
    for phase in ("import", "export"):
        for op in ops:
            cells = [phase, op]
            seen = False
            for r in results:
                n = _dynamo(r[phase]["calls"]).get(op, 0)
                seen = seen or n > 0
                cells += [f"{n:,}", f"{n * 1000 / r['events']:.2f}"]
            if seen:
                rows.append(cells)
        others = Counter()
        for r in results:
            others.update({k: v for k, v in r[phase]["calls"].items()
                           if not k.startswith("dynamodb:")})
        if others:
            rows.append([phase, "(not DynamoDB) " + ", ".join(
                f"{k} {v}" for k, v in sorted(others.items())), *[""] * (2 * len(results))])
    headers = ["phase", "operation"]
    for r in results:
        headers += [f"{r['events']:,}: calls", "per 1k"]
    print(table(headers, rows, right=tuple(range(2, 2 + 2 * len(results)))))

    title(f"Memory of the importing process (RSS; target: flat across sizes, "
          f"< {RSS_TARGET_MB} MB)")
    rows = []
    for r in results:
        mb = 2 ** 20
        warm = r["rss_before"] / mb
        peak_import = r["rss_peaks"].get("import", 0) / mb
        peak_export = r["rss_peaks"].get("export", 0) / mb
        rows.append([f"{r['events']:,}", f"{r['rss_cold'] / mb:.0f}", f"{warm:.0f}",
                     f"{peak_import:.0f}", f"{peak_import - warm:+.0f}",
                     f"{r['max_rss_after_import'] / mb:.0f}",
                     "OK" if r["max_rss_after_import"] / mb < RSS_TARGET_MB else "MISSED",
                     f"{peak_export:.0f}", f"{r['max_rss'] / mb:.0f}",
                     r["models_at_end"], f"{r['moto_rss'] / mb:,.0f}"])
    print(table(["events", "cold MB", "warm MB", "import peak MB", "import growth MB",
                 "ru_maxrss after import MB", f"< {RSS_TARGET_MB}", "export peak MB",
                 "ru_maxrss at end MB", "PynamoDB models used", "moto server MB (not ours)"],
                rows, right=tuple(range(11))))
    print("""
cold: the interpreter with app and chalice.test's Client, before any load (provisioning
and bootstrap ran in another process). warm: after a warm-up import and export of one
aggregate (100 events) in the `test` environment, so every model, client and code path
of a load is loaded, as in a container that has run a load before. The peaks are
sampled (psutil, every 20 ms) during the measured import and export; ru_maxrss is the
process's own high-water mark. PynamoDB gives each model its own botocore session and
client (thread-local), about 10 MB each the first time a model is used in a container:
most of cold -> warm.""")

    print()
    for r in results:
        job = r["import"]["job"]
        result = job.get("result") or {}
        imp = r["import"]
        counts_ok = result.get("applied") == r["events"] and not result.get("already_present")
        print(f"{r['events']:>9,} events: job {job['status']} in {imp['slices']} slice(s), "
              f"{imp['crashes']} crash(es); applied {result.get('applied'):,}, already present "
              f"{result.get('already_present'):,}, streams {result.get('streams'):,}, invalid "
              f"{result.get('invalid_count')}{'' if counts_ok else ' (COUNTS OFF: see below)'};"
              f" botocore retries {imp['retries']}, failed calls "
              f"{imp['errors'] or 0}; upload PUT {imp['upload_s']:.1f} s (not in the rate); "
              f"export check: {r['export_check']}")
        if not counts_ok:
            print("    the job's result undercounts 'applied': a chunk ran again after its "
                  "commit had reached\n    DynamoDB (the job's cursor went back) and found its "
                  "events present; see the retries,\n    failed calls and crashes")
    print(f"""
Import rate: from POST import_jsonl to the job's completion (both passes: validate every
line, then apply in chunks of 25 streams x 100 events), through the queue consumer.
Export queries: {QUERY_NOTE[stock_query]}.
Both rates include moto's own time ('in AWS calls': the share of the wall time spent
inside botocore calls, i.e. serialising, HTTP on the loopback and moto, which spends most
of a Query in its generic response serialiser): they are NOT AWS figures. Calls count
every AWS call the importing process made in that phase, the job's bookkeeping (claim,
progress saves, status reads) included. Constant 'us/ev' and 'calls /1k' across
sizes mean the per-event cost does not grow with the load; BatchWriteItem is the floor:
40 per 1,000 events (25 per call).
moto's server freezes its heap every 5 s (gc.freeze): without it, at 1M events moto
answered past the app's 2 s read timeout (in both runs tried: one job failed after 3
crashes, one miscounted a chunk it ran twice), most likely in full garbage collections
of its millions of stored items. moto's server answers {SERVING[threaded]}.""")


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help=f"also {FULL_SIZE:,} events")
    parser.add_argument("--sizes", help="comma-separated event counts (default 10000,100000)")
    parser.add_argument("--stock-query", action="store_true",
                        help="moto's own Query (slow: sorts the whole table per call)")
    parser.add_argument("--threaded-moto", action="store_true",
                        help="moto's server answering in threads (by default one request "
                             "at a time, as under `make run`)")
    parser.add_argument("--moto-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--setup", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--child", type=int, metavar="EVENTS", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.moto_server:
        return moto_server_main(args.moto_server, args.stock_query, args.threaded_moto)
    if args.setup:
        return setup_main(args.setup)
    if args.child:
        result = child(args.child, Path(args.file), args.stock_query, args.threaded_moto)
        print("RESULT " + json.dumps(result))
        return 0

    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(DEFAULT_SIZES)
    if args.full and FULL_SIZE not in sizes:
        sizes.append(FULL_SIZE)
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-loading-") as tmp:
        for n in sizes:
            if n % PER_AGGREGATE:
                parser.error(f"sizes must be multiples of {PER_AGGREGATE}")
            path = Path(tmp) / f"events-{n}.jsonl"
            t = time.perf_counter()
            write_input(path, n)
            print(f"[{n:,} events] input written ({path.stat().st_size / 1e6:.1f} MB, "
                  f"{time.perf_counter() - t:.1f} s); importing and exporting ...", flush=True)
            cmd = [sys.executable, "-m", "bench.data_loading", "--child", str(n),
                   "--file", str(path)] + (["--stock-query"] if args.stock_query else []) + (
                       ["--threaded-moto"] if args.threaded_moto else [])
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
            if done.returncode != 0 or not lines:
                print(done.stdout[-3000:], done.stderr[-6000:], sep="\n")
                raise SystemExit(f"bench: the {n:,}-event run failed")
            result = json.loads(lines[-1][len("RESULT "):])
            print(f"[{n:,} events] import {result['import']['seconds']:.1f} s, export "
                  f"{result['export']['seconds']:.1f} s", flush=True)
            results.append(result)
            path.unlink()
    report(results, args.stock_query, args.threaded_moto)
    print(f"\n(data-loading bench took {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
