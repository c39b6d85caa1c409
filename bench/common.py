"""What every benchmark shares: plain-text tables, a counter of AWS calls, and the
bootstrapped stack the API benchmarks drive."""
from __future__ import annotations

import contextlib
from collections import Counter


def table(headers, rows, right=()):
    """Plain-text table; columns whose index is in `right` are right-aligned."""
    cells = [[str(h) for h in headers]] + [[("" if c is None else str(c)) for c in r]
                                           for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        out = []
        for i, cell in enumerate(row):
            out.append(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    text = [line(cells[0]), "  ".join("-" * w for w in widths)]
    text += [line(r) for r in cells[1:]]
    return "\n".join(text)


def title(text):
    print()
    print(text)
    print("=" * len(text))


class CallCounter:
    """Counts every AWS API call by (service, operation) while installed."""

    def __init__(self):
        self.calls: Counter = Counter()
        self._original = None

    def __enter__(self):
        from botocore.client import BaseClient
        original = BaseClient._make_api_call
        counter = self

        def counted(client, operation_name, api_params):
            counter.calls[(client.meta.service_model.service_name, operation_name)] += 1
            return original(client, operation_name, api_params)

        self._original = original
        BaseClient._make_api_call = counted
        return self

    def __exit__(self, *exc):
        from botocore.client import BaseClient
        BaseClient._make_api_call = self._original

    def take(self) -> Counter:
        calls, self.calls = self.calls, Counter()
        return calls


class ItemCounter(CallCounter):
    """CallCounter that also sums the items of every TransactWriteItems."""

    def __enter__(self):
        from botocore.client import BaseClient
        super().__enter__()
        self.items = 0
        counted = BaseClient._make_api_call
        bench = self

        def with_items(client, operation, params):
            if operation == "TransactWriteItems":
                bench.items += len(params.get("TransactItems", []))
            return counted(client, operation, params)
        BaseClient._make_api_call = with_items
        return self

    def take_items(self) -> int:
        items, self.items = self.items, 0
        return items


def per_call(calls: Counter, n: int, service: str) -> float:
    """Calls to `service` per one of `n` things done."""
    return sum(v for (s, _), v in calls.items() if s == service) / max(n, 1)


def breakdown(calls: Counter) -> str:
    parts = []
    for (service, op), n in sorted(calls.items(), key=lambda kv: (kv[0][0] != "dynamodb", kv[0])):
        if (service, op) == ("secretsmanager", "GetSecretValue"):
            continue
        label = op if service == "dynamodb" else f"{service}:{op}"
        parts.append(f"{label} {n}" if n > 1 else label)
    return ", ".join(parts) or "-"


@contextlib.contextmanager
def api_stack():
    """What the API tests' `stack` fixture gives, outside pytest."""
    from testing.stack import bootstrapped, mocked_aws
    with mocked_aws(), bootstrapped() as stack:
        yield stack
