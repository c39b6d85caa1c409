"""The data plane over its routes (chalice.test.Client on moto): DynamoDB round trips
per request with the rate limiter on, warm container (key, plan and head cached).

    python -m bench.data_plane
"""
from __future__ import annotations

from bench.common import CallCounter, api_stack, breakdown, table, title
from testing.specs import ORDER_SPEC

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}


def main() -> int:
    with api_stack() as stack, CallCounter() as counter:
        token = stack.operator_token()
        inst = stack.call("POST", "/api/instances", token, body={"name": "bench"}).json["id"]
        stack.call("POST", f"/api/instances/{inst}/spec", token,
                   body={"environment": "prod", "spec": ORDER_SPEC})
        key = stack.call("POST", f"/api/instances/{inst}/keys", token, body={
            "name": "w", "scope": "write", "environment": "prod"}).json["key"]
        auth = {"Authorization": f"Bearer {key}"}

        def post(path, body):
            return stack.call("POST", "/data" + path, body=body, headers=auth)

        post("/order/0RDER0001/created", {"data": {"customer": "C00000001"}, "metadata": ACTOR})
        post("/order/0RDER0001/item_added", {"data": {"sku": "A", "qty": 1}, "metadata": ACTOR})
        stack.call("GET", "/data/order/0RDER0001", headers=auth)
        rows = []
        cases = [
            ("append item_added", lambda: post("/order/0RDER0001/item_added",
                                               {"data": {"sku": "B", "qty": 1},
                                                "metadata": ACTOR}), 201),
            ("batch of 5 item_added", lambda: post("/order/0RDER0001", {"events": [
                {"type": "item_added", "data": {"sku": f"s{i}", "qty": 1}} for i in range(5)],
                "metadata": ACTOR}), 201),
            ("GET state", lambda: stack.call("GET", "/data/order/0RDER0001", headers=auth), 200),
            ("GET length", lambda: stack.call("GET", "/data/order/0RDER0001/length", headers=auth), 200),
        ]
        for label, fn, status in cases:
            counter.take()
            answer = fn()
            assert answer.status == status, (label, answer)
            calls = counter.take()
            limiter = sum(n for (svc, op), n in calls.items() if op == "UpdateItem")
            total = sum(n for (svc, op), n in calls.items() if svc == "dynamodb")
            rows.append([label, total, limiter, total - limiter, breakdown(calls)])
    title("Data plane: DynamoDB round trips per request, warm, rate limiter on")
    print(table(["request", "total", "limiter", "the work", "calls"], rows, right=(1, 2, 3)))
    print("\nlimiter: the instance's counter (one conditional UpdateItem; it returns the "
          "count for X-RateLimit-Remaining) and the source IP's, which rides in an append's "
          "own TransactWriteItems and is an UpdateItem of its own on a read. The work is "
          "what the request itself needs: the key's GetItem, then one transaction or read.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
