"""DynamoDB's own units for the calls a block of code makes against moto's in-process mock
(`mock_aws`): item sizes as DynamoDB counts them, write units (1 KB each, doubled inside
TransactWriteItems), read units (4 KB each, halved for an eventually consistent read),
and the writes a table's global secondary indexes take.

What is counted, per DynamoDB's documentation ("DynamoDB item sizes and formats",
"Capacity management for transactions", "Provisioned throughput considerations for
global secondary indexes"):
- an item's size is the sum of its attribute names' and values' sizes: strings and
  binaries their bytes, a number 1 byte per 2 significant digits + 1, a boolean or null
  1, a list or map 3 bytes + 1 byte per element + its elements (a map's keys too);
- a write (PutItem, UpdateItem, DeleteItem, each request of a BatchWriteItem) costs
  ceil(size / 1 KB) units of the larger of the item before and after it; inside a
  TransactWriteItems every item (a ConditionCheck included) costs twice that;
- a global secondary index with the item's index keys takes one more write of the
  projected entry (ALL: the whole item) whenever a projected attribute changes, at the
  ordinary rate (not doubled);
- a read (GetItem, each key of a BatchGetItem) costs ceil(size / 4 KB) units, a Query
  ceil(total size of the items it returned / 4 KB); half when not consistent.

The sizes come from the serialized requests (botocore's request body, so PynamoDB and
boto3 resources are seen alike) and from the items moto stores, read just before and
just after each call in this process. Not counted: what real DynamoDB adds for a
transaction's own bookkeeping and its conflict retries, and table storage."""
from __future__ import annotations

import base64
import json
import math
from collections import Counter
from dataclasses import dataclass, field

KB = 1024
READ_UNIT = 4 * KB


# --------------------------------------------------------------------------- sizes

def _number_size(text: str) -> int:
    digits = text.lstrip("-+").lower().split("e")[0].replace(".", "").strip("0")
    return (max(1, len(digits)) + 1) // 2 + 1


def _binary_size(value) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    return len(base64.b64decode(value))


def value_size(value: dict) -> int:
    """Size of one attribute value in DynamoDB's wire form ({"S": "..."}, ...)."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return _binary_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "BS":
        return sum(_binary_size(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict | None) -> int:
    """Size of an item (wire form) as DynamoDB counts it; 0 for no item."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return units if consistent else units / 2


# --------------------------------------------------------------------------- moto

def _table(region: str, name: str):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region].tables.get(name)


def stored(region: str, table_name: str, key: dict) -> dict | None:
    """The item moto holds under `key` (wire form), or None."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    table = _table(region, table_name)
    if table is None:
        return None
    try:
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    except KeyError:
        return None
    item = table.get_item(hash_key, range_key)
    return None if item is None else item.to_json()["Attributes"]


def _key_of(region: str, table_name: str, item: dict) -> dict:
    table = _table(region, table_name)
    if table is None:
        return {}
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {n: item[n] for n in names if n in item}


def _index_writes(region: str, table_name: str, before: dict | None,
                  after: dict | None) -> list[tuple[str, int]]:
    """(index name, entry size) for each GSI entry the change writes (or deletes)."""
    table = _table(region, table_name)
    if table is None or before == after:
        return []
    out = []
    for index in table.global_indexes:
        keys = index.schema_key_attrs
        kind = index.projection.get("ProjectionType", "ALL")
        if kind == "ALL":
            projected = None
        elif kind == "KEYS_ONLY":
            projected = set(keys) | set(_key_of(region, table_name, after or before or {}))
        else:
            projected = set(keys) | set(index.projection.get("NonKeyAttributes", [])) | set(
                _key_of(region, table_name, after or before or {}))

        def entry(item):
            if not item or not all(k in item for k in keys):
                return None
            return item if projected is None else {k: v for k, v in item.items()
                                                   if k in projected}
        old, new = entry(before), entry(after)
        if old is None and new is None:
            continue
        if old == new:
            continue
        keys_moved = old is not None and new is not None and any(
            old.get(k) != new.get(k) for k in keys)
        if keys_moved:       # one delete of the old entry and one put of the new
            out.append((index.name, item_size(old)))
        out.append((index.name, item_size(new if new is not None else old)))
    return out


# --------------------------------------------------------------------------- records

@dataclass
class Write:
    table: str
    action: str               # Put, Update, Delete, ConditionCheck
    size: int                 # the larger of before and after
    units: float
    in_transaction: bool
    index: str | None = None  # set for a GSI entry's write


@dataclass
class Read:
    table: str
    items: int
    size: int
    units: float
    consistent: bool


@dataclass
class Call:
    operation: str
    writes: list = field(default_factory=list)
    reads: list = field(default_factory=list)

    @property
    def wcu(self) -> float:
        return sum(w.units for w in self.writes)

    @property
    def rcu(self) -> float:
        return sum(r.units for r in self.reads)


def _short(table_name: str) -> str:
    from chalicelib.core import settings
    try:
        prefix = settings.get().table_prefix
    except Exception:  # noqa: BLE001 - not our tables (the peer's): the name as it is
        prefix = ""
    return table_name[len(prefix):] if prefix and table_name.startswith(prefix) else table_name


class Units:
    """While installed (a context manager), every DynamoDB call in this process is
    recorded as a Call with its writes and reads in DynamoDB's units (moto in-process
    only: the items before and after are read from moto's backend)."""

    def __init__(self):
        self.calls: list[Call] = []
        self._original = None

    def __enter__(self):
        from botocore.client import BaseClient
        original = BaseClient._make_request
        me = self

        def measured(client, operation_model, request_dict, request_context):
            if client.meta.service_model.service_name != "dynamodb":
                return original(client, operation_model, request_dict, request_context)
            region = client.meta.region_name
            try:
                params = json.loads(request_dict.get("body") or b"{}")
            except ValueError:
                params = {}
            name = operation_model.name
            before = me._before(region, name, params)
            answer = original(client, operation_model, request_dict, request_context)
            call = me._after(region, name, params, before, answer[1])
            if call is not None:
                me.calls.append(call)
            return answer

        self._original = original
        BaseClient._make_request = measured
        return self

    def __exit__(self, *exc):
        from botocore.client import BaseClient
        BaseClient._make_request = self._original

    def take(self) -> list[Call]:
        calls, self.calls = self.calls, []
        return calls

    # -- writes

    @staticmethod
    def _targets(region: str, name: str, params: dict) -> list[tuple]:
        """(table, action, key, request item or None, in transaction) per item written."""
        out = []
        if name == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                (action, body), = entry.items()
                table = body["TableName"]
                item = body.get("Item")
                key = body.get("Key") or _key_of(region, table, item or {})
                out.append((table, action, key, item, True))
        elif name == "BatchWriteItem":
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        out.append((table, "Put", _key_of(region, table, item), item, False))
                    else:
                        out.append((table, "Delete", request["DeleteRequest"]["Key"], None,
                                    False))
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            table = params["TableName"]
            item = params.get("Item")
            key = params.get("Key") or _key_of(region, table, item or {})
            out.append((table, name[:-4], key, item, False))
        return out

    def _before(self, region: str, name: str, params: dict):
        return [(t, a, k, i, tx, stored(region, t, k))
                for t, a, k, i, tx in self._targets(region, name, params)]

    def _after(self, region: str, name: str, params: dict, before: list, answer: dict):
        call = Call(name)
        for table, action, key, item, in_tx, old in before:
            new = stored(region, table, key)
            size = max(item_size(old), item_size(new), item_size(item))
            units = write_units(size) * (2 if in_tx else 1)
            call.writes.append(Write(_short(table), action, size, units, in_tx))
            if action != "ConditionCheck":
                for index, entry in _index_writes(region, table, old, new):
                    call.writes.append(Write(_short(table), action, entry,
                                             write_units(entry), in_tx, index=index))
        if name in ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"):
            self._reads(call, name, params, answer)
        return call

    # -- reads

    @staticmethod
    def _reads(call: Call, name: str, params: dict, answer: dict) -> None:
        if name == "GetItem":
            item = answer.get("Item")
            size = item_size(item)
            consistent = bool(params.get("ConsistentRead"))
            call.reads.append(Read(_short(params["TableName"]), 1 if item else 0, size,
                                   read_units(size, consistent), consistent))
        elif name == "BatchGetItem":
            for table, items in (answer.get("Responses") or {}).items():
                consistent = bool(params.get("RequestItems", {}).get(table, {})
                                  .get("ConsistentRead"))
                for item in items:
                    size = item_size(item)
                    call.reads.append(Read(_short(table), 1, size,
                                           read_units(size, consistent), consistent))
        elif name in ("Query", "Scan"):
            items = answer.get("Items") or []
            size = sum(item_size(i) for i in items)
            consistent = bool(params.get("ConsistentRead"))
            call.reads.append(Read(_short(params["TableName"]), len(items), size,
                                   read_units(size, consistent) if items else
                                   (1 if consistent else 0.5), consistent))


def totals(calls: list[Call]) -> dict:
    """Sums over calls: calls by operation, write units (transaction, plain, index),
    read units and items read."""
    ops = Counter(c.operation for c in calls)
    tx = sum(w.units for c in calls for w in c.writes if w.in_transaction and not w.index)
    plain = sum(w.units for c in calls for w in c.writes if not w.in_transaction and not w.index)
    index = sum(w.units for c in calls for w in c.writes if w.index)
    return {"calls": ops, "n_calls": sum(ops.values()), "wcu_tx": tx, "wcu_plain": plain,
            "wcu_index": index, "wcu": tx + plain + index,
            "rcu": sum(r.units for c in calls for r in c.reads),
            "items_read": sum(r.items for c in calls for r in c.reads),
            "bytes_read": sum(r.size for c in calls for r in c.reads)}
