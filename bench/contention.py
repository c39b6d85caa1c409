"""The contention probe: W writers x N appends on one stream, none naming previous_length,
over HTTP against the `make run` stack (moto's server, bootstrap, `chalice local`, on free
ports). Prints successes, median, p99 and max latency, the answers that were not 201,
and whether the stream then holds exactly W x N more events with a valid hash chain.

    python -m bench.contention                 # 8 writers x 25 appends, the outside probe
    python -m bench.contention --writers 16 --each 25 --rounds 2

Not imported by the tests (tests/e2e/test_contention.py runs the same probe and asserts it)."""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import table, title  # noqa: E402


def probe(url: str, key: str, stream_id: str, writers: int, each: int) -> dict:
    import requests

    from testing.e2e import contend
    auth = {"Authorization": f"Bearer {key}"}
    created = requests.post(f"{url}/data/order/{stream_id}/created", headers=auth, timeout=30,
                            json={"data": {"customer": "BENCH0001"},
                                  "metadata": {"actor": {"type": "user", "id": "BENCH0001"}}})
    assert created.status_code == 201, created.text
    before = requests.get(f"{url}/data/order/{stream_id}/length", headers=auth,
                          timeout=30).json()["length"]
    began = time.monotonic()
    results = contend(url, stream_id, auth, writers, each)
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
    with contextlib.ExitStack() as running:
        if args.url:
            url, key = args.url.rstrip("/"), args.key
            if not key:
                parser.error("--url needs --key")
        else:
            from testing.e2e import running_stack
            print("starting the `make run` stack on free ports ...", flush=True)
            tmp = Path(tempfile.mkdtemp(prefix="bench-contention-"))
            url = running.enter_context(running_stack(tmp)).url
            from testing.e2e import instance_with_writer
            _, _, key = instance_with_writer(url, "bench")
        rows, problems = [], Counter()
        for r in range(args.rounds):
            got = probe(url, key, str(uuid.uuid4()), args.writers, args.each)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
