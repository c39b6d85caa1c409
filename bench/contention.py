"""The contention probe: W writers x N appends on one stream, none naming previous_length,
over HTTP against the `make run` stack (moto's server, bootstrap, `chalice local`, on free
ports). Prints successes, median, p99 and max latency, the answers that were not 201,
and whether the stream then holds exactly W x N more events with a valid hash chain.

    python -m bench.contention                 # 8 writers x 25 appends, the outside probe
    python -m bench.contention --writers 16 --each 25 --rounds 2

Not imported by the tests (tests/e2e/test_contention.py runs the same probe and asserts it)."""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
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

EMAIL = "admin@example.com"
PASSWORD = "bench correct horse battery staple"
SPEC = {
    "aggregate_types": {"order": {"events": {
        "created": {"schema": {"type": "object"},
                    "handler": [{"set": {"target": "$.state.status", "value": "open"}}]},
        "item_added": {"schema": {"type": "object", "required": ["sku", "qty"],
                                  "properties": {"sku": {"type": "string"},
                                                 "qty": {"type": "integer", "minimum": 1}}},
                       "handler": [{"increment": {"target": "$.state.count", "by": "$.data.qty"}}]},
    }}},
    "agent_types": ["user"],
}
ACTOR = {"actor": {"type": "user", "id": "bench"}}


def _free_port(taken=()) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port


class Stack:
    """`python -m local.run` on free ports, in a process group of its own."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-contention-"))
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, PORT=str(port), MOTO_PORT=str(_free_port((port,))),
                   LOCAL_DIR=str(self.tmp / "local"), ADMIN_EMAIL=EMAIL,
                   ADMIN_PASSWORD=PASSWORD, NODE_SECRET="bench-node-secret",
                   PYTHONUNBUFFERED="1")
        self.log = self.tmp / "runner.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "local.run"], cwd=ROOT, env=env,
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 90.0) -> None:
        import requests
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the stack exited ({self.proc.returncode}):\n"
                                 f"{self.log.read_text(errors='replace')}")
            try:
                if (requests.get(self.url + "/openapi.json", timeout=2).status_code == 200
                        and "ready at" in self.log.read_text(errors="replace")):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise SystemExit(f"the stack was not ready in {timeout:.0f} s:\n"
                         f"{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _setup(url: str) -> str:
    """An instance with the spec deployed and a write key; the key's text."""
    import requests
    token = requests.post(url + "/api/login", json={"email": EMAIL, "password": PASSWORD},
                          timeout=30).json()["admin_token"]
    auth = {"Authorization": f"Bearer {token}"}
    inst = requests.post(url + "/api/instances", json={"name": "bench"}, headers=auth,
                         timeout=30).json()["id"]
    deployed = requests.post(url + f"/api/instances/{inst}/spec", headers=auth, timeout=30,
                             json={"environment": "prod", "spec": SPEC})
    assert deployed.status_code == 201, deployed.text
    return requests.post(url + f"/api/instances/{inst}/keys", headers=auth, timeout=30,
                         json={"name": "w", "scope": "write", "environment": "prod"}).json()["key"]


def probe(url: str, key: str, stream_id: str, writers: int, each: int) -> dict:
    import requests
    auth = {"Authorization": f"Bearer {key}"}
    created = requests.post(f"{url}/data/order/{stream_id}/created", headers=auth, timeout=30,
                            json={"data": {}, "metadata": ACTOR})
    assert created.status_code == 201, created.text
    before = requests.get(f"{url}/data/order/{stream_id}/length", headers=auth,
                          timeout=30).json()["length"]
    results: list[tuple[int, float, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(writers)

    def writer(n: int) -> None:
        session = requests.Session()
        start.wait()
        for i in range(each):
            began = time.monotonic()
            try:
                answer = session.post(f"{url}/data/order/{stream_id}/item_added", headers=auth,
                                      json={"data": {"sku": f"w{n}-{i}", "qty": 1},
                                            "metadata": ACTOR}, timeout=60)
                status, text = answer.status_code, answer.text[:200]
            except requests.RequestException as exc:
                status, text = 0, f"{type(exc).__name__}: {exc}"
            with lock:
                results.append((status, time.monotonic() - began, text))

    began = time.monotonic()
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    latencies = sorted(seconds for _, seconds, _ in results)
    chain = requests.get(f"{url}/data/order/{stream_id}/audit/verify-chain", headers=auth,
                         timeout=60).json()
    ok = sum(1 for status, _, _ in results if status == 201)
    return {
        "ok": ok, "total": len(results), "wall": wall,
        "median": statistics.median(latencies),
        "p99": latencies[max(0, int(round(0.99 * len(latencies))) - 1)],
        "max": latencies[-1],
        "others": Counter((status, text) for status, _, text in results if status != 201),
        "added": chain["length"] - before, "chain_valid": chain["valid"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="contention probe against `make run`")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--each", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=1, help="probes, each on a new stream")
    parser.add_argument("--url", help="an already running stack (then --key is needed)")
    parser.add_argument("--key", help="a write key of that stack whose environment has the "
                                      "bench spec deployed")
    args = parser.parse_args(argv)
    stack = None
    if args.url:
        url, key = args.url.rstrip("/"), args.key
        if not key:
            parser.error("--url needs --key")
    else:
        print("starting the `make run` stack on free ports ...", flush=True)
        stack = Stack()
        stack.wait_ready()
        url = stack.url
        key = _setup(url)
    try:
        rows, problems = [], Counter()
        for r in range(args.rounds):
            got = probe(url, key, f"contended-{int(time.time())}-{r}", args.writers, args.each)
            problems.update(got["others"])
            rows.append([r + 1, f"{args.writers} x {args.each}", f"{got['ok']}/{got['total']}",
                         f"{got['median'] * 1000:.0f}", f"{got['p99'] * 1000:.0f}",
                         f"{got['max'] * 1000:.0f}", f"{got['wall']:.1f}", got["added"],
                         "yes" if got["chain_valid"] else "NO"])
        title("Contended appends on one stream, over HTTP against `make run`")
        print(table(["round", "writers x appends", "succeeded", "median ms", "p99 ms",
                     "max ms", "wall s", "events added", "chain valid"], rows,
                    right=(2, 3, 4, 5, 6, 7)))
        for (status, text), n in problems.most_common(10):
            print(f"  {n} x {status}: {text}")
    finally:
        if stack is not None:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
