"""Benchmarks: import cost (a cold-start proxy) and AWS round trips per request.

    python -m bench.run              # what `make bench` runs
    python -m bench.run --quick      # fewer repetitions and smaller sizes, a smoke check

1. Import time: fresh interpreters each time `import boto3` alone and `import app`, so the
   ratio shows what our own import graph adds to the one library every Lambda needs.
   `python -X importtime` then names the packages that cost most.
2. Round trips: every AWS API call (botocore BaseClient._make_api_call, which PynamoDB and
   Powertools Parameters also go through) counted per request, inside moto's mock_aws with
   the API tests' setup (provision, bootstrap, chalice.test.Client). Secrets Manager reads
   are cached per container, so requests are measured warm, after a warm-up pass; the cold
   first request is shown on its own row.
3. Latency per request, in-process against moto (an indication of our own overhead, not of
   AWS latency).
4-6. The event store (round trips per operation at 1k and 100k events, tick
   folding rate, append throughput against moto): bench/event_store.py, run after these
   (`--events off` skips it, `--events only` runs it alone).
7. Metrics over the device registry (round trips of GET /admin/v1/metrics and
   its export, devices_summary and a registration at 1k and 100k devices, no Scan):
   bench/device_metrics.py (`--devices off` skips it, `--devices only` runs it alone).
8. Write cost per append on DynamoDB's terms (write units at folded states of 1, 10 and
   100 KB, beside the read cost of a state read): bench/write_cost.py (`--write-cost`).
9. Side by side with the eventsourcing library on DynamoDB (appends, calls and write
   units per append, read of a 500-event aggregate, guarantees): bench/event_store_peer.py
   (`--peer`).
10. Data loading (import_jsonl and export of 10k and 100k events: rates, calls per 1,000
   events, RSS): bench/data_loading.py (`--loading`), run last.
Each of 4-10 is on by default and takes `off` or `only`; several `only`s run those alone.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import testing.env  # noqa: E402,F401 - sets the test environment before project imports
from bench.common import CallCounter, api_stack, breakdown, table, title  # noqa: E402

os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"

IMPORT_TARGET = 1.5


# --------------------------------------------------------------------------- output

# --------------------------------------------------------------------------- 1. imports

def _child_env() -> dict:
    env = dict(os.environ)
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def _time_import(module: str, env: dict) -> float:
    code = ("import time; t = time.perf_counter(); import " + module +
            "; print(time.perf_counter() - t)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"import {module} failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def _importtime_tree(module: str, env: dict):
    """Parsed `-X importtime` lines under `module`: dicts with name, self, cum (µs),
    level and parent (the importing module's entry)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    entries, pending = [], []
    pattern = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")
    for raw in done.stderr.splitlines():
        m = pattern.match(raw)
        if not m:
            continue
        level = (len(m.group(3)) - 1) // 2
        entry = {"name": m.group(4), "self": int(m.group(1)), "cum": int(m.group(2)),
                 "level": level, "parent": None}
        # output is post-order: children come before their parent, one level deeper
        while pending and pending[-1]["level"] > level:
            pending.pop()["parent"] = entry
        pending.append(entry)
        entries.append(entry)
    root = next((e for e in entries if e["name"] == module and e["level"] == 0), None)
    if root is None:
        return None, []

    def under_root(e):
        while e is not None:
            if e is root:
                return True
            e = e["parent"]
        return False

    return root, [e for e in entries if e is not root and under_root(e)]


def bench_imports(runs: int) -> dict:
    env = _child_env()
    _time_import("app", env)  # compile .pyc files once, outside the measurement
    samples = {"boto3": [], "app": []}
    for _ in range(runs):  # interleaved, so drift in machine load hits both alike
        for module in samples:
            samples[module].append(_time_import(module, env))

    title(f"1. Import time, fresh interpreter each (N={runs}; Lambda cold-start proxy)")
    rows = []
    for module, label in (("boto3", "import boto3"), ("app", "import app")):
        xs = samples[module]
        rows.append([label, f"{statistics.median(xs) * 1000:.0f}", f"{min(xs) * 1000:.0f}",
                     f"{max(xs) * 1000:.0f}"])
    ratio_med = statistics.median(samples["app"]) / statistics.median(samples["boto3"])
    ratio_min = min(samples["app"]) / min(samples["boto3"])
    print(table(["import", "median ms", "min ms", "max ms"], rows, right=(1, 2, 3)))
    verdict = "OK" if ratio_med <= IMPORT_TARGET else "MISSED"
    print(f"\nratio app/boto3: median {ratio_med:.2f}x, min {ratio_min:.2f}x   "
          f"target <= {IMPORT_TARGET}x   {verdict}")

    root, entries = _importtime_tree("app", env)
    if root is None:
        print("\n(-X importtime gave no entry for app)")
        return {"ratio": ratio_med}

    direct = sorted((e for e in entries if e["parent"] is root), key=lambda e: -e["cum"])
    print(f"\nDirect imports of app.py (-X importtime, one run; app total "
          f"{root['cum'] / 1000:.0f} ms, cumulative: a module imported first by an earlier "
          "line is charged there)")
    print(table(["module", "cumulative ms", "self ms"],
                [[e["name"], f"{e['cum'] / 1000:.1f}", f"{e['self'] / 1000:.1f}"]
                 for e in direct], right=(1, 2)))

    def top(name):
        return name.split(".")[0]

    # a package's entry point: the first line of that package under a different package
    firsts = [e for e in entries
              if top(e["name"]) not in ("app", "chalicelib")
              and (e["parent"] is None or top(e["parent"]["name"]) != top(e["name"]))]
    firsts.sort(key=lambda e: -e["cum"])
    print("\n10 most expensive package imports under app.py (cumulative, including the "
          "package's own dependencies, so rows overlap)")
    rows = [[i + 1, e["name"], f"{e['cum'] / 1000:.1f}", e["parent"]["name"]]
            for i, e in enumerate(firsts[:10])]
    print(table(["#", "module", "cumulative ms", "imported by"], rows, right=(0, 2)))
    return {"ratio": ratio_med}


# --------------------------------------------------------------------------- 2. round trips

class Flow:
    """The requests measured, each a callable answering the Answer it got."""

    def __init__(self, stack):
        import testing.stack as api
        self.api = api
        self.s = stack

    def operator_login(self):
        return self.s.call("POST", "/api/login",
                           body={"email": self.api.ADMIN_EMAIL, "password": self.api.ADMIN_PASSWORD})

    def challenge(self):
        return self.s.call("GET", "/admin/v1/auth/challenge")

    def device_login_post(self, challenge):
        from chalicelib.core import clock
        sig = self.s.admin_key.sign(challenge.encode()).signature.hex()
        return self.s.call("POST", "/admin/v1/auth", body={
            "device_address": self.api.VECTOR_ADDRESS, "challenge": challenge,
            "challenge_signature": sig, "timestamp": clock.now_int()})

    def create_instance(self, token):
        return self.s.call("POST", "/api/instances", token, body={"name": "bench"})

    def get_instance(self, token, inst):
        return self.s.call("GET", f"/api/instances/{inst}", token)

    def list_instances(self, token):
        return self.s.call("GET", "/api/instances", token)

    def list_keys(self, token, inst):
        return self.s.call("GET", f"/api/instances/{inst}/keys", token)

    def create_key(self, token, inst):
        return self.s.call("POST", f"/api/instances/{inst}/keys", token,
                           body={"name": "bench", "scope": "read", "environment": "prod"})

    def use_key(self, text):
        return self.s.call("GET", "/data", headers={"Authorization": f"Bearer {text}"})

    def rotate(self, token, key_id):
        return self.s.call("POST", f"/api/keys/{key_id}/rotate", token, body={})

    def refresh(self, token):
        return self.s.call("POST", "/admin/v1/auth/refresh", token)

    def logout(self, token):
        return self.s.call("POST", "/admin/v1/auth/logout", token)


def _expect(answer, status, what):
    if answer.status != status:
        raise SystemExit(f"bench: {what} answered {answer.status}, expected {status}: {answer}")
    return answer


def bench_round_trips() -> list[dict]:
    results = []
    with api_stack() as stack, CallCounter() as counter:
        flow = Flow(stack)

        def measure(label, fn, status, target=None, note=""):
            counter.take()
            answer = _expect(fn(), status, label)
            calls = counter.take()
            secret = calls[("secretsmanager", "GetSecretValue")]
            total = sum(calls.values())
            results.append({"label": label, "status": answer.status, "total": total,
                            "aws_excl_secret": total - secret, "secret": secret,
                            "breakdown": breakdown(calls), "target": target, "note": note})
            return answer

        # cold container: the first request reads the signing key from Secrets Manager
        measure("operator login, cold container (1st request)", flow.operator_login, 200)

        # warm-up of every code path, uncounted
        token = _expect(flow.operator_login(), 200, "warm-up login").json["admin_token"]
        inst = _expect(flow.create_instance(token), 201, "warm-up instance").json["id"]
        warm_key = _expect(flow.create_key(token, inst), 201, "warm-up key").json
        _expect(flow.use_key(warm_key["key"]), 200, "warm-up use")
        _expect(flow.get_instance(token, inst), 200, "warm-up get")
        ch = _expect(flow.challenge(), 200, "warm-up challenge").json["challenge"]
        _expect(flow.device_login_post(ch), 200, "warm-up device login")
        counter.take()

        # warm, measured
        token = measure("POST /api/login (operator)", flow.operator_login, 200).json["admin_token"]
        answer = measure("GET  /admin/v1/auth/challenge", flow.challenge, 200)
        ch = answer.json["challenge"]
        device_token = measure("POST /admin/v1/auth (device login)",
                               lambda: flow.device_login_post(ch), 200).json["admin_token"]
        inst = measure("POST /api/instances", lambda: flow.create_instance(token), 201).json["id"]
        measure("GET  /api/instances/{id}", lambda: flow.get_instance(token, inst), 200,
                target=2, note="session 1 + instance and event totals 1 (BatchGetItem) + "
                               "live keys 1 (Query)")
        measure("GET  /api/instances/{id} (device token)",
                lambda: flow.get_instance(device_token, inst), 200,
                target=2, note="session check 1 + instance read 1")
        measure("GET  /api/instances (list)", lambda: flow.list_instances(token), 200)
        key = measure("POST /api/instances/{id}/keys", lambda: flow.create_key(token, inst),
                      201).json
        measure("GET  /api/instances/{id}/keys", lambda: flow.list_keys(token, inst), 200)
        measure("GET  /data, key's first use", lambda: flow.use_key(key["key"]), 200,
                note="GetItem + last_used_at write")
        measure("GET  /data, warm (key verification)", lambda: flow.use_key(key["key"]), 200,
                target=1)
        rotated = measure("POST /api/keys/{id}/rotate", lambda: flow.rotate(token, key["id"]),
                          201).json
        measure("GET  /data, rotated-out key (401)", lambda: flow.use_key(key["key"]), 401,
                target=1)
        _expect(flow.use_key(rotated["key"]), 200, "new key")
        new_token = measure("POST /admin/v1/auth/refresh", lambda: flow.refresh(token),
                            200).json["admin_token"]
        measure("POST /admin/v1/auth/logout", lambda: flow.logout(new_token), 200)
        measure("GET  /api/instances/{id} after logout (401)",
                lambda: flow.get_instance(token, inst), 401, target=1, note="session check only")

    title("2. AWS round trips per request (moto, counted at botocore _make_api_call)")
    rows = []
    for r in results:
        target = r["target"]
        verdict = "" if target is None else ("OK" if r["total"] <= target else "MISSED")
        rows.append([r["label"], r["status"], r["total"], r["secret"] or "-", r["breakdown"],
                     "-" if target is None else f"<= {target}", verdict, r["note"]])
    print(table(["request", "status", "calls", "GetSecret", "breakdown (DynamoDB unless named)",
                 "target", "", "note"], rows, right=(1, 2, 3)))
    print("\n'calls' counts every AWS API call, GetSecretValue included; all rows but the "
          "first are warm\n(signing key cached per container by Powertools Parameters, "
          "max_age 300 s).")
    return results


# --------------------------------------------------------------------------- 3. latency

def bench_latency(runs: int) -> None:
    rows = []
    with api_stack() as stack:
        flow = Flow(stack)
        token = _expect(flow.operator_login(), 200, "login").json["admin_token"]
        inst = _expect(flow.create_instance(token), 201, "instance").json["id"]
        key = _expect(flow.create_key(token, inst), 201, "key").json
        _expect(flow.use_key(key["key"]), 200, "first use")

        def timed(label, prepare, act, status):
            samples = []
            for _ in range(runs):
                arg = prepare() if prepare else None
                t = time.perf_counter()
                answer = act(arg)
                samples.append(time.perf_counter() - t)
                _expect(answer, status, label)
            rows.append([label, f"{statistics.median(samples) * 1000:.1f}",
                         f"{min(samples) * 1000:.1f}"])

        timed("POST /api/login (operator, argon2id 'fast' test profile)", None,
              lambda _: flow.operator_login(), 200)
        timed("GET  /admin/v1/auth/challenge", None, lambda _: flow.challenge(), 200)
        timed("POST /admin/v1/auth (device login)",
              lambda: flow.challenge().json["challenge"], flow.device_login_post, 200)
        timed("GET  /api/instances/{id}", None, lambda _: flow.get_instance(token, inst), 200)
        timed("POST /api/instances/{id}/keys", None, lambda _: flow.create_key(token, inst), 201)
        timed("GET  /data, warm (key verification)", None, lambda _: flow.use_key(key["key"]),
              200)
        chain = [key["id"]]

        def rotate_next(_):
            answer = flow.rotate(token, chain[-1])
            if answer.status == 201:
                chain.append(answer.json["id"])
            return answer

        timed("POST /api/keys/{id}/rotate", None, rotate_next, 201)
        timed("POST /admin/v1/auth/refresh", None, lambda _: flow.refresh(token), 200)
        timed("POST /admin/v1/auth/logout",
              lambda: flow.operator_login().json["admin_token"], flow.logout, 200)

    title(f"3. Latency per request, in-process against moto (N={runs}) -- NOT AWS latency")
    print(table(["request", "median ms", "min ms"], rows, right=(1, 2)))
    print("\nchalice.test.Client and moto in one process: shows our own per-request work "
          "plus moto's;\nreal DynamoDB adds a network round trip (single-digit ms) per call "
          "counted in table 2.")


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="import-time subprocesses each")
    parser.add_argument("--latency-runs", type=int, default=50,
                        help="requests per latency row (0 skips the latency table)")
    parser.add_argument("--quick", action="store_true",
                        help="5 import runs, 10 latency runs, 100 appends per throughput row")
    parser.add_argument("--events", choices=("on", "off", "only"), default="on",
                        help="the event-store tables 4-6 of bench/event_store.py: "
                             "after the others (on, the default), skipped, or alone")
    parser.add_argument("--devices", choices=("on", "off", "only"), default="on",
                        help="table 7 of bench/device_metrics.py (device metrics at "
                             "1k and 100k devices): on (the default), skipped, or alone")
    parser.add_argument("--write-cost", choices=("on", "off", "only"), default="on",
                        help="bench/write_cost.py: write units per append by state size")
    parser.add_argument("--peer", choices=("on", "off", "only"), default="on",
                        help="bench/event_store_peer.py: beside eventsourcing on DynamoDB")
    parser.add_argument("--loading", choices=("on", "off", "only"), default="on",
                        help="bench/data_loading.py: import and export of 10k and 100k "
                             "events (--quick: 10k only)")
    parser.add_argument("--timers", choices=("on", "off", "only"), default="on",
                        help="what acts over time: calls per scheduled event, saga step and "
                             "delivery, deliveries per second (in-process), and due-to-"
                             "emitted time of scheduled events under make run")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.latency_runs = 5, 10

    started = time.perf_counter()
    print(f"adminplane bench  (python {sys.version.split()[0]}, {sys.platform})")
    sections = (args.events, args.devices, args.write_cost, args.peer, args.loading,
                args.timers)
    alone = "only" in sections

    def wanted(choice: str) -> bool:
        return choice == "only" or (choice == "on" and not alone)

    if not alone:
        bench_imports(args.runs)
        bench_round_trips()
        if args.latency_runs > 0:
            bench_latency(args.latency_runs)
    if wanted(args.events):
        from bench import event_store
        event_store.run_all(appends=100 if args.quick else 500)
    if wanted(args.devices):
        from bench import device_metrics
        device_metrics.run_all()
    if wanted(args.write_cost):
        from bench import write_cost
        write_cost.main(["--appends", "32"] if args.quick else [])
    if wanted(args.peer):
        from bench import event_store_peer
        event_store_peer.main(["--rounds", "2", "--appends", "50"] if args.quick else [])
    if wanted(args.loading):
        from bench import data_loading
        data_loading.main(["--sizes", "10000"] if args.quick else [])
    if wanted(args.timers):
        from bench import deliveries, due_latency, sagas, scheduled_events
        scheduled_events.main(["--events", "20", "--timed", "20"] if args.quick else [])
        sagas.main(["--sagas", "20"] if args.quick else [])
        deliveries.main(["--events", "50", "--timed", "100"] if args.quick else [])
        due_latency.main(["--events", "20"] if args.quick else [])
    print(f"\n(bench took {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
