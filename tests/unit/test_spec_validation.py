"""Spec validation : every rule, valid and invalid.

Each invalid case mutates one comprehensive valid spec and asserts the exact JSON path
of the problem and a fragment of its message.
"""
import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain import specs as spec_validation
from chalicelib.domain.specs import key_path, orphaned, parse_duration, validate_spec

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ORDER_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["customer_id", "lines"],
    "properties": {
        "customer_id": {"type": "string", "minLength": 1},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}},
        "email": {"type": "string", "format": "email"},
    },
    "$defs": {"line": {"type": "object", "properties": {"sku": {"type": "string"},
                                                        "qty": {"type": "integer"}}}},
    "additionalProperties": False,
}

VALID = {
    "aggregate_types": {
        "order": {
            "events": {
                "created": {
                    "schema": ORDER_SCHEMA,
                    "handler": [
                        {"set": {"target": "status", "value": "open"}},
                        {"set": {"target": "customer_id", "value": "$.data.customer_id"}},
                        {"set": {"target": "lines", "value": "$.data.lines"}},
                    ],
                    "implications": [
                        {"emit": {"aggregate_type": "customer", "id": "$.data.customer_id",
                                  "event_type": "order_linked",
                                  "data": {"order_id": "$.metadata.aggregate_id",
                                           "note": {"literal": "$.not-a-path"}}}},
                        {"schedule": {"delay": "24h",
                                      "emit": {"aggregate_type": "order",
                                               "id": "$.metadata.aggregate_id",
                                               "event_type": "expired"},
                                      "cancel_on": ["paid", "expired"]}},
                    ],
                },
                "paid": {
                    "schema": {"$schema": "http://json-schema.org/draft-07/schema#",
                               "type": "object",
                               "properties": {"amount": {"type": "number", "minimum": 0},
                                              "customer_id": {"type": "string"}}},
                    "handler": [
                        {"set": {"target": "status", "value": "paid"}},
                        {"conditional": {"if": {"gt": ["$.data.amount", 100]},
                                         "then": [{"set": {"target": "vip",
                                                           "value": True}}]}},
                    ],
                    "implications": [
                        {"emit": {"aggregate_type": "customer", "id": "$.data.customer_id",
                                  "event_type": "order_paid",
                                  "data": {"amount": "$.data.amount",
                                           "by": "$.metadata.actor.id",
                                           "lines": ["$.data.lines[0]", 1]}}},
                    ],
                },
                "expired": {"schema": {"type": "object"},
                            "handler": [{"set": {"target": "status",
                                                 "value": "expired"}}]},
            },
            "onTombstone": {"actor": "cascade", "target": "preserve"},
        },
        "customer": {
            "events": {
                "registered": {"schema": {"type": "object",
                                          "properties": {"name": {"type": "string"}}},
                               "handler": [{"merge": {"target": "$.state",
                                                      "value": {"name": "$.data.name"}}}]},
                "order_linked": {"schema": {"type": "object"},
                                 "handler": [{"append_unique": {"target": "orders",
                                                                "value": "$.data.order_id"}}]},
                "order_paid": {"schema": {"type": "object"},
                               "handler": [{"increment": {"target": "paid_orders"}}]},
                "credited": {"schema": {"type": "object"}, "handler": []},
            },
            "onTombstone": {"target": "cascade"},
        },
    },
    "agent_types": ["user", "admin", "system"],
    "target_types": ["customer"],
    "modules": {"sagas": {
        "fulfilment": {
            "trigger": {"aggregate_type": "order", "event_type": "paid"},
            "steps": [
                {"name": "link", "emit": {"aggregate_type": "customer",
                                          "id": "$.data.customer_id",
                                          "event_type": "order_linked",
                                          "data": {"order_id": "$.metadata.aggregate_id"}},
                 "await": {"aggregate_type": "customer",
                           "event_types": ["registered", "order_paid"]},
                 "timeout_ms": 30000,
                 "compensate": {"aggregate_type": "customer", "id": "$.data.customer_id",
                                "event_type": "credited",
                                "data": {"amount": "$.data.amount", "after": "$prev.type"}}},
                {"name": "expire", "condition": {"equals": ["$prev.type", "registered"]},
                 "emit": {"aggregate_type": "order", "id": "order-1",
                          "event_type": "expired", "data": {"name": "$prev.data.name"}},
                 "await": {"aggregate_type": "order", "event_types": ["expired"],
                           "id": "$prev.data.order_id"},
                 "timeout": "30m"},
            ],
        },
    }},
    "listeners": [
        {"name": "billing", "url": "https://billing.example.com/hooks/j17",
         "events": ["order.paid", "customer.*"],
         "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
        {"name": "local_dev", "url": "http://localhost:9000/hook",
         "events": [{"aggregate_type": "order", "event_type": "*"}],
         "secret": "whsec_redacted", "secret_ref": "lsk_1700000000000abcdef012345",
         "timeout_ms": 2500},
    ],
    "projections": {
        "open_orders": {"source": ["order"],
                        "handler": [{"set": {"target": "last", "value": "$.data"}}]},
        "everything": {"source": ["order", "customer"], "handler": []},
    },
}

E = "$.aggregate_types.order.events"
CREATED = f"{E}.created"
IMPL = f"{CREATED}.implications"
SAGA = "$.modules.sagas.fulfilment"


def spec():
    return copy.deepcopy(VALID)


def get(doc, *keys):
    for k in keys:
        doc = doc[k]
    return doc


def problems_of(doc):
    out = validate_spec(doc)
    assert isinstance(out, list)
    for p in out:
        assert set(p) == {"path", "message"} and isinstance(p["path"], str)
        assert isinstance(p["message"], str) and p["message"]
    return out


def assert_problem(doc, path, fragment):
    found = problems_of(doc)
    assert any(p["path"] == path and fragment in p["message"] for p in found), found


# --- the valid spec --------------------------------------------------------------------------

def test_comprehensive_valid_spec_passes():
    assert problems_of(spec()) == []


def test_minimal_valid_spec_passes():
    minimal = {"aggregate_types": {"note": {"events": {"written": {
        "schema": {"type": "object"}, "handler": []}}}}, "agent_types": ["user"]}
    assert problems_of(minimal) == []


def test_validation_does_not_change_the_spec():
    doc = spec()
    validate_spec(doc)
    assert doc == VALID


# --- invalid cases: (mutation, path, message fragment) -----------------------------------

def write_target(keys, value):
    def mutate(doc):
        get(doc, *keys[:-1])[keys[-1]] = value
    return mutate


def _del(keys):
    def mutate(doc):
        del get(doc, *keys[:-1])[keys[-1]]
    return mutate


def _rename(keys, new):
    def mutate(doc):
        holder = get(doc, *keys[:-1])
        holder[new] = holder.pop(keys[-1])
    return mutate


A = ("aggregate_types",)
O = A + ("order",)
EV = O + ("events",)
CR = EV + ("created",)
IM = CR + ("implications",)
EMIT0 = IM + (0, "emit")
SCHED = IM + (1, "schedule")
SG = ("modules", "sagas", "fulfilment")
STEP0 = SG + ("steps", 0)
L0 = ("listeners", 0)
PR = ("projections", "open_orders")

CASES = {
    # top level
    "unknown top-level key": (write_target(("wasm_modules",), {}), "$.wasm_modules",
                              "unknown key 'wasm_modules' is not supported by this system"),
    "unknown top-level key lists allowed": (write_target(("functions",), []), "$.functions",
                                            "allowed: aggregate_types, agent_types"),
    "aggregate_types missing": (_del(A), "$", "missing required key 'aggregate_types'"),
    "aggregate_types empty": (write_target(A, {}), "$.aggregate_types", "at least one aggregate type"),
    "aggregate_types not object": (write_target(A, ["order"]), "$.aggregate_types",
                                   "must be an object, not array"),
    "agent_types missing": (_del(("agent_types",)), "$", "missing required key 'agent_types'"),
    "agent_types empty": (write_target(("agent_types",), []), "$.agent_types",
                          "at least one agent type"),
    "agent_types not list": (write_target(("agent_types",), "user"), "$.agent_types",
                             "must be a list of agent types, not string"),
    "agent type duplicate": (write_target(("agent_types",), ["user", "user"]), "$.agent_types[1]",
                             "duplicate agent type 'user'"),
    "agent type empty string": (write_target(("agent_types",), [""]), "$.agent_types[0]",
                                "is not a valid name"),
    "agent type bad name": (write_target(("agent_types",), ["User"]), "$.agent_types[0]",
                            "'User' is not a valid name"),
    "agent type not string": (write_target(("agent_types",), [3]), "$.agent_types[0]",
                              "must be a string, not number"),
    "target_types not list": (write_target(("target_types",), {}), "$.target_types",
                              "must be a list of target types"),
    "target type duplicate": (write_target(("target_types",), ["a", "a"]), "$.target_types[1]",
                              "duplicate target type"),
    "target type bad name": (write_target(("target_types",), ["1st"]), "$.target_types[0]",
                             "not a valid name"),
    # aggregate types
    "aggregate type bad name": (_rename(O, "Order"), "$.aggregate_types.Order",
                                "aggregate type 'Order' is not a valid name"),
    "aggregate type name with dash": (_rename(O, "my-order"),
                                      "$.aggregate_types['my-order']", "not a valid name"),
    "aggregate type name too long": (_rename(O, "a" * 65), f"$.aggregate_types.{'a' * 65}",
                                     "1-64 characters"),
    "aggregate type not object": (write_target(O, []), "$.aggregate_types.order",
                                  "an aggregate type must be an object"),
    "aggregate type unknown key": (write_target(O + ("snapshots",), {}),
                                   "$.aggregate_types.order.snapshots",
                                   "unknown key 'snapshots' is not supported by this system "
                                   "(allowed: events, onTombstone)"),
    "aggregate type without events": (_del(EV), "$.aggregate_types.order",
                                      "missing required key 'events'"),
    "events empty": (write_target(EV, {}), E, "at least one event type"),
    "events not object": (write_target(EV, []), E, "events must be an object"),
    "event type bad name": (_rename(EV + ("expired",), "Expired!"), f"{E}['Expired!']",
                            "event type 'Expired!' is not a valid name"),
    "event not object": (write_target(EV + ("expired",), "x"), f"{E}.expired",
                         "an event type must be an object, not string"),
    "event unknown key": (write_target(CR + ("wasm",), "mod.wasm"), f"{CREATED}.wasm",
                          "unknown key 'wasm' is not supported by this system "
                          "(allowed: schema, handler, implications)"),
    "event without schema": (_del(CR + ("schema",)), CREATED, "missing required key 'schema'"),
    "event without handler": (_del(CR + ("handler",)), CREATED,
                              "missing required key 'handler'"),
    # onTombstone
    "onTombstone bad mode": (write_target(O + ("onTombstone", "actor"), "delete"),
                             "$.aggregate_types.order.onTombstone.actor",
                             "must be 'cascade' or 'preserve', not 'delete'"),
    "onTombstone unknown key": (write_target(O + ("onTombstone", "grace"), "72h"),
                                "$.aggregate_types.order.onTombstone.grace",
                                "allowed: actor, target"),
    "onTombstone not object": (write_target(O + ("onTombstone",), "cascade"),
                               "$.aggregate_types.order.onTombstone",
                               "onTombstone must be an object"),
    # schema
    "schema not object": (write_target(CR + ("schema",), True), f"{CREATED}.schema",
                          "must be a JSON Schema object, not boolean"),
    "schema invalid keyword value": (write_target(CR + ("schema", "properties", "email", "type"),
                                          "strin"),
                                     f"{CREATED}.schema.properties.email.type",
                                     "invalid JSON Schema"),
    "schema invalid required": (write_target(CR + ("schema", "required"), "customer_id"),
                                f"{CREATED}.schema.required", "invalid JSON Schema"),
    "schema invalid draft-07": (write_target(EV + ("paid", "schema", "properties", "amount",
                                           "minimum"), "zero"),
                                f"{E}.paid.schema.properties.amount.minimum",
                                "invalid JSON Schema"),
    "schema unknown $schema": (write_target(CR + ("schema", "$schema"), "https://example.com/s"),
                               f"{CREATED}.schema['$schema']", "unknown $schema"),
    "schema $schema not string": (write_target(CR + ("schema", "$schema"), ["x"]),
                                  f"{CREATED}.schema['$schema']", "unknown $schema"),
    "schema top-level type not object": (write_target(CR + ("schema", "type"), "array"),
                                         f"{CREATED}.schema.type",
                                         "top-level type must be 'object'"),
    "schema without type": (write_target(EV + ("expired", "schema"), {"properties": {}}),
                            f"{E}.expired.schema", "top-level type must be 'object'"),
    "schema remote $ref": (write_target(CR + ("schema", "properties", "lines", "items"),
                                {"$ref": "https://example.com/line.json"}),
                           f"{CREATED}.schema.properties.lines.items['$ref']",
                           "remote $ref 'https://example.com/line.json' is not supported"),
    # handler
    "handler not list": (write_target(CR + ("handler",), {"set": {}}), f"{CREATED}.handler",
                         "handler must be a list of tick operations, not object"),
    "handler unknown operation": (write_target(CR + ("handler",), [{"set": {"target": "a",
                                                                    "value": 1}},
                                                           {"wasm": {"module": "x"}}]),
                                  f"{CREATED}.handler[1].wasm", "unknown operation 'wasm'"),
    "handler bad argument": (write_target(CR + ("handler",), [{"set": {"target": "$.foo",
                                                               "value": 1}}]),
                             f"{CREATED}.handler[0].set.target", "must be a path into the state"),
    "handler bad predicate": (write_target(EV + ("paid", "handler", 1, "conditional", "if"),
                                   {"between": [1, 2]}),
                              f"{E}.paid.handler[1].conditional.if.between",
                              "unknown predicate 'between'"),
    # implications
    "implications not list": (write_target(IM, {"emit": {}}), IMPL, "implications must be a list"),
    "implication not object": (write_target(IM + (0,), "emit"), f"{IMPL}[0]",
                               "an implication must be an object"),
    "implication empty": (write_target(IM + (0,), {}), f"{IMPL}[0]", "must have one key"),
    "implication two kinds": (write_target(IM + (1, "emit"), get(VALID, *EMIT0)), f"{IMPL}[1]",
                              "exactly one kind; found emit and schedule"),
    # emit
    "emit not object": (write_target(EMIT0, ["customer"]), f"{IMPL}[0].emit",
                        "emit must be an object, not array"),
    "emit missing id": (_del(EMIT0 + ("id",)), f"{IMPL}[0].emit", "missing required key 'id'"),
    "emit missing event_type": (_del(EMIT0 + ("event_type",)), f"{IMPL}[0].emit",
                                "missing required key 'event_type'"),
    "emit unknown aggregate type": (write_target(EMIT0 + ("aggregate_type",), "client"),
                                    f"{IMPL}[0].emit.aggregate_type",
                                    "unknown aggregate type 'client' (defined: customer, order)"),
    "emit unknown event type": (write_target(EMIT0 + ("event_type",), "linked"),
                                f"{IMPL}[0].emit.event_type",
                                "aggregate type 'customer' has no event type 'linked'"),
    "emit event type bad name": (write_target(EMIT0 + ("event_type",), 7),
                                 f"{IMPL}[0].emit.event_type", "must be a string"),
    "emit unknown key": (write_target(EMIT0 + ("actor",), {"type": "system"}),
                         f"{IMPL}[0].emit.actor",
                         "allowed: aggregate_type, id, event_type, data"),
    "emit id empty": (write_target(EMIT0 + ("id",), ""), f"{IMPL}[0].emit.id",
                      "id must be a non-empty string"),
    "emit id number": (write_target(EMIT0 + ("id",), 42), f"{IMPL}[0].emit.id",
                       "id must be a non-empty string"),
    "emit id too long": (write_target(EMIT0 + ("id",), "x" * 257), f"{IMPL}[0].emit.id",
                         "at most 256 characters"),
    "emit id unknown root": (write_target(EMIT0 + ("id",), "$.event.customer"), f"{IMPL}[0].emit.id",
                             "$.event is not $.data, $.metadata"),
    "emit id bad path": (write_target(EMIT0 + ("id",), "$.data..x"), f"{IMPL}[0].emit.id",
                         "not a supported path"),
    "emit data not object": (write_target(EMIT0 + ("data",), "$.data"), f"{IMPL}[0].emit.data",
                             "data must be an object, not string"),
    "emit data literal not object": (write_target(EMIT0 + ("data",), {"literal": 5}),
                                     f"{IMPL}[0].emit.data", "data must be an object, not number"),
    "emit data bad path": (write_target(EMIT0 + ("data", "order_id"), "$.item.id"),
                           f"{IMPL}[0].emit.data.order_id", "$.item"),
    "emit data bad path syntax": (write_target(EMIT0 + ("data", "order_id"), "$.data.a b"),
                                  f"{IMPL}[0].emit.data.order_id", "not a supported path"),
    "emit data reads state": (write_target(EMIT0 + ("data", "order_id"), ["@.id"]),
                              f"{IMPL}[0].emit.data.order_id[0]",
                              "the state (@) is not available to an emit"),
    "emit id reads state": (write_target(EMIT0 + ("id",), "@.customer_id"), f"{IMPL}[0].emit.id",
                            "the state (@) is not available to an emit"),
    "saga step id reads state": (write_target(STEP0 + ("emit", "id"), "@.customer_id"),
                                 f"{SAGA}.steps[0].emit.id",
                                 "the state (@) is not available to a saga step"),
    # schedule
    "schedule not object": (write_target(SCHED, "24h"), f"{IMPL}[1].schedule",
                            "schedule must be an object"),
    "schedule delay missing": (_del(SCHED + ("delay",)), f"{IMPL}[1].schedule",
                               "missing required key 'delay'"),
    "schedule emit missing": (_del(SCHED + ("emit",)), f"{IMPL}[1].schedule",
                              "missing required key 'emit'"),
    "schedule delay below 5 minutes": (write_target(SCHED + ("delay",), "4m"),
                                       f"{IMPL}[1].schedule.delay",
                                       "delay '4m' is too short: the minimum is 5m"),
    "schedule delay 299s": (write_target(SCHED + ("delay",), "299s"), f"{IMPL}[1].schedule.delay",
                            "too short"),
    "schedule delay zero": (write_target(SCHED + ("delay",), "0d"), f"{IMPL}[1].schedule.delay",
                            "too short"),
    "schedule delay over a year": (write_target(SCHED + ("delay",), "366d"),
                                   f"{IMPL}[1].schedule.delay", "the maximum is 365d"),
    "schedule delay words": (write_target(SCHED + ("delay",), "24 hours"), f"{IMPL}[1].schedule.delay",
                             "must be a duration like '30m'"),
    "schedule delay compound": (write_target(SCHED + ("delay",), "1h30m"), f"{IMPL}[1].schedule.delay",
                                "must be a duration"),
    "schedule delay number": (write_target(SCHED + ("delay",), 86400), f"{IMPL}[1].schedule.delay",
                              "must be a duration"),
    "schedule delay unit": (write_target(SCHED + ("delay",), "2w"), f"{IMPL}[1].schedule.delay",
                            "one unit of s, m, h, d"),
    "schedule emit unknown event": (write_target(SCHED + ("emit", "event_type"), "gone"),
                                    f"{IMPL}[1].schedule.emit.event_type",
                                    "aggregate type 'order' has no event type 'gone'"),
    "schedule unknown key": (write_target(SCHED + ("repeat",), "daily"),
                             f"{IMPL}[1].schedule.repeat",
                             "unknown key 'repeat' is not supported by this system"),
    "cancel_on not list": (write_target(SCHED + ("cancel_on",), "paid"),
                           f"{IMPL}[1].schedule.cancel_on", "must be a list of event types"),
    "cancel_on unknown event": (write_target(SCHED + ("cancel_on",), ["paid", "refunded"]),
                                f"{IMPL}[1].schedule.cancel_on[1]",
                                "cancel_on names event types of 'order', which has no event "
                                "type 'refunded'"),
    "cancel_on other aggregate's event": (write_target(SCHED + ("cancel_on",), ["registered"]),
                                          f"{IMPL}[1].schedule.cancel_on[0]",
                                          "no event type 'registered'"),
    "cancel_on duplicate": (write_target(SCHED + ("cancel_on",), ["paid", "paid"]),
                            f"{IMPL}[1].schedule.cancel_on[1]", "duplicate event type 'paid'"),
    # modules and sagas
    "modules not object": (write_target(("modules",), ["sagas"]), "$.modules",
                           "modules must be an object"),
    "unknown module": (write_target(("modules", "workflows"), {}), "$.modules.workflows",
                       "unknown module 'workflows' is not supported by this system "
                       "(allowed: sagas)"),
    "sagas not object": (write_target(("modules", "sagas"), []), "$.modules.sagas",
                         "sagas must be an object of named sagas"),
    "saga bad name": (_rename(SG, "Fulfil Ment"), "$.modules.sagas['Fulfil Ment']",
                      "saga name 'Fulfil Ment' is not a valid name"),
    "saga not object": (write_target(SG, []), SAGA, "a saga must be an object"),
    "saga unknown key": (write_target(SG + ("retries",), 3), f"{SAGA}.retries",
                         "allowed: trigger, steps"),
    "saga missing trigger": (_del(SG + ("trigger",)), SAGA, "missing required key 'trigger'"),
    "saga missing steps": (_del(SG + ("steps",)), SAGA, "missing required key 'steps'"),
    "saga trigger unknown aggregate": (write_target(SG + ("trigger", "aggregate_type"), "invoice"),
                                       f"{SAGA}.trigger.aggregate_type",
                                       "unknown aggregate type 'invoice'"),
    "saga trigger unknown event": (write_target(SG + ("trigger", "event_type"), "shipped"),
                                   f"{SAGA}.trigger.event_type",
                                   "aggregate type 'order' has no event type 'shipped'"),
    "saga trigger missing event": (_del(SG + ("trigger", "event_type")), f"{SAGA}.trigger",
                                   "missing required key 'event_type'"),
    "saga trigger unknown key": (write_target(SG + ("trigger", "when"), {}), f"{SAGA}.trigger.when",
                                 "allowed: aggregate_type, event_type"),
    "saga steps empty": (write_target(SG + ("steps",), []), f"{SAGA}.steps", "at least one step"),
    "saga steps not list": (write_target(SG + ("steps",), {}), f"{SAGA}.steps",
                            "steps must be a list"),
    "saga step not object": (write_target(STEP0, "link"), f"{SAGA}.steps[0]",
                             "a saga step must be an object"),
    "saga step missing name": (_del(STEP0 + ("name",)), f"{SAGA}.steps[0]",
                               "missing required key 'name'"),
    "saga step missing emit": (_del(STEP0 + ("emit",)), f"{SAGA}.steps[0]",
                               "missing required key 'emit'"),
    "saga step duplicate name": (write_target(SG + ("steps", 1, "name"), "link"),
                                 f"{SAGA}.steps[1].name", "duplicate step name 'link'"),
    "saga step bad name": (write_target(STEP0 + ("name",), "Link"), f"{SAGA}.steps[0].name",
                           "step name 'Link' is not a valid name"),
    "saga step emit unknown event": (write_target(STEP0 + ("emit", "event_type"), "linked"),
                                     f"{SAGA}.steps[0].emit.event_type",
                                     "has no event type 'linked'"),
    "saga step emit unknown aggregate": (write_target(STEP0 + ("emit", "aggregate_type"), "x"),
                                         f"{SAGA}.steps[0].emit.aggregate_type",
                                         "unknown aggregate type 'x'"),
    "saga step timeout too short": (write_target(SG + ("steps", 1, "timeout"), "0s"),
                                    f"{SAGA}.steps[1].timeout",
                                    "timeout '0s' is too short: the minimum is 1s"),
    "saga step timeout too long": (write_target(SG + ("steps", 1, "timeout"), "8d"),
                                   f"{SAGA}.steps[1].timeout",
                                   "timeout '8d' is too long: the maximum is 7d"),
    "saga step timeout bad": (write_target(SG + ("steps", 1, "timeout"), "soon"),
                              f"{SAGA}.steps[1].timeout", "must be a duration"),
    "saga step timeout twice": (write_target(STEP0 + ("timeout",), "30s"), f"{SAGA}.steps[0]",
                                "timeout_ms or timeout, not both"),
    "saga step timeout_ms too short": (write_target(STEP0 + ("timeout_ms",), 999),
                                       f"{SAGA}.steps[0].timeout_ms",
                                       "timeout_ms 999 is too short: the minimum is 1000"),
    "saga step timeout_ms too long": (write_target(STEP0 + ("timeout_ms",), 604800001),
                                      f"{SAGA}.steps[0].timeout_ms",
                                      "timeout_ms 604800001 is too long"),
    "saga step timeout_ms not integer": (write_target(STEP0 + ("timeout_ms",), "30s"),
                                         f"{SAGA}.steps[0].timeout_ms",
                                         "timeout_ms must be a whole number of milliseconds"),
    "saga step timeout_ms fraction": (write_target(STEP0 + ("timeout_ms",), 1500.5),
                                      f"{SAGA}.steps[0].timeout_ms", "whole number"),
    "saga step timeout without await": (_del(STEP0 + ("await",)), f"{SAGA}.steps[0].timeout_ms",
                                        "this step awaits nothing"),
    "saga await not object": (write_target(STEP0 + ("await",), ["registered"]),
                              f"{SAGA}.steps[0].await", "await must be an object"),
    "saga await missing event_types": (_del(STEP0 + ("await", "event_types")),
                                       f"{SAGA}.steps[0].await",
                                       "missing required key 'event_types'"),
    "saga await missing aggregate": (_del(STEP0 + ("await", "aggregate_type")),
                                     f"{SAGA}.steps[0].await",
                                     "missing required key 'aggregate_type'"),
    "saga await unknown aggregate": (write_target(STEP0 + ("await", "aggregate_type"), "invoice"),
                                     f"{SAGA}.steps[0].await.aggregate_type",
                                     "unknown aggregate type 'invoice'"),
    "saga await unknown event": (write_target(STEP0 + ("await", "event_types"),
                                              ["registered", "shipped"]),
                                 f"{SAGA}.steps[0].await.event_types[1]",
                                 "aggregate type 'customer' has no event type 'shipped'"),
    "saga await no event types": (write_target(STEP0 + ("await", "event_types"), []),
                                  f"{SAGA}.steps[0].await.event_types",
                                  "must list at least one event type"),
    "saga await event types not list": (write_target(STEP0 + ("await", "event_types"),
                                                     "registered"),
                                        f"{SAGA}.steps[0].await.event_types",
                                        "must be a list of event types"),
    "saga await unknown key": (write_target(STEP0 + ("await", "within"), "5m"),
                               f"{SAGA}.steps[0].await.within",
                               "allowed: aggregate_type, event_types, id"),
    "saga await id empty": (write_target(STEP0 + ("await", "id"), ""),
                            f"{SAGA}.steps[0].await.id", "id must be a non-empty string"),
    "saga await id bad path": (write_target(SG + ("steps", 1, "await", "id"), "$prev.data..x"),
                               f"{SAGA}.steps[1].await.id", "not a supported path"),
    "saga condition not object": (write_target(SG + ("steps", 1, "condition"), "yes"),
                                  f"{SAGA}.steps[1].condition",
                                  "a condition must be a predicate object"),
    "saga condition unknown predicate": (write_target(SG + ("steps", 1, "condition"),
                                                      {"matches": ["$prev.type", "x"]}),
                                         f"{SAGA}.steps[1].condition.matches",
                                         "unknown predicate 'matches'"),
    "saga condition bad path": (write_target(SG + ("steps", 1, "condition"),
                                             {"equals": ["$.event.type", "x"]}),
                                f"{SAGA}.steps[1].condition.equals[0]", "$.event"),
    "saga condition reads state": (write_target(SG + ("steps", 1, "condition"),
                                                {"equals": ["@.status", "x"]}),
                                   f"{SAGA}.steps[1].condition.equals[0]",
                                   "the state (@) is not available to a saga step"),
    "saga first step reads prev": (write_target(STEP0 + ("emit", "data", "x"), "$prev.type"),
                                   f"{SAGA}.steps[0].emit.data.x",
                                   "no earlier step has an await"),
    "saga first condition reads prev": (write_target(STEP0 + ("condition",),
                                                     {"exists": "$prev.data.id"}),
                                        f"{SAGA}.steps[0].condition.exists",
                                        "no earlier step has an await"),
    "saga emit prev bad path": (write_target(SG + ("steps", 1, "emit", "id"), "$prev.data.a b"),
                                f"{SAGA}.steps[1].emit.id", "not a supported path"),
    "saga compensate reads state": (write_target(STEP0 + ("compensate", "data", "s"), "@.x"),
                                    f"{SAGA}.steps[0].compensate.data.s",
                                    "the state (@) is not available to a saga step"),
    "saga compensate unknown event": (write_target(STEP0 + ("compensate", "event_type"), "refunded"),
                                      f"{SAGA}.steps[0].compensate.event_type",
                                      "has no event type 'refunded'"),
    "saga compensate not object": (write_target(STEP0 + ("compensate",), "undo"),
                                   f"{SAGA}.steps[0].compensate", "must be an object"),
    "saga step unknown key": (write_target(STEP0 + ("lambda",), "arn:aws:lambda:x"),
                              f"{SAGA}.steps[0].lambda",
                              "unknown key 'lambda' is not supported by this system"),
    # listeners
    "listeners not list": (write_target(("listeners",), {}), "$.listeners", "listeners must be a list"),
    "listener not object": (write_target(L0, "https://x"), "$.listeners[0]",
                            "a listener must be an object"),
    "listener missing url": (_del(L0 + ("url",)), "$.listeners[0]",
                             "missing required key 'url'"),
    "listener missing name": (_del(L0 + ("name",)), "$.listeners[0]",
                              "missing required key 'name'"),
    "listener missing events": (_del(L0 + ("events",)), "$.listeners[0]",
                                "missing required key 'events'"),
    "listener unknown key": (write_target(L0 + ("headers",), {}), "$.listeners[0].headers",
                             "allowed: name, url, events, secret, secret_ref, timeout_ms"),
    "listener missing secret": (_del(L0 + ("secret",)), "$.listeners[0]",
                                "missing required key 'secret'"),
    "listener secret not whsec": (write_target(L0 + ("secret",), "hunter2hunter2"),
                                  "$.listeners[0].secret", "must be 'whsec_' followed by base64"),
    "listener secret too short": (write_target(L0 + ("secret",), "whsec_c2hvcnQ="),
                                  "$.listeners[0].secret", "24 to 64 random bytes, not 5"),
    "listener secret bad base64": (write_target(L0 + ("secret",), "whsec_not*base64!"),
                                   "$.listeners[0].secret", "standard base64"),
    "listener secret not string": (write_target(L0 + ("secret",), 42), "$.listeners[0].secret",
                                   "secret must be a string"),
    "listener timeout too long": (write_target(L0 + ("timeout_ms",), 60000),
                                  "$.listeners[0].timeout_ms", "from 100 to 30000"),
    "listener private ip url": (write_target(L0 + ("url",), "https://10.1.2.3/h"),
                                "$.listeners[0].url", "private address"),
    "listener metadata ip url": (write_target(L0 + ("url",), "https://169.254.169.254/latest"),
                                 "$.listeners[0].url", "link-local address"),
    "listener object event unknown": (write_target(("listeners", 1, "events"),
                                                   [{"aggregate_type": "order",
                                                     "event_type": "shipped"}]),
                                      "$.listeners[1].events[0].event_type",
                                      "aggregate type 'order' has no event type 'shipped'"),
    "listener object event extra key": (write_target(("listeners", 1, "events"),
                                                     [{"aggregate_type": "order",
                                                       "event_type": "*", "filter": 1}]),
                                        "$.listeners[1].events[0].filter", "unknown key"),
    "listener object event missing type": (write_target(("listeners", 1, "events"),
                                                        [{"aggregate_type": "order"}]),
                                           "$.listeners[1].events[0]",
                                           "missing required key 'event_type'"),
    "listener duplicate name": (write_target(("listeners", 1, "name"), "billing"),
                                "$.listeners[1].name", "duplicate listener name 'billing'"),
    "listener bad name": (write_target(L0 + ("name",), "Billing"), "$.listeners[0].name",
                          "not a valid name"),
    "listener http url": (write_target(L0 + ("url",), "http://billing.example.com/h"),
                          "$.listeners[0].url", "must use https://"),
    "listener ftp url": (write_target(L0 + ("url",), "ftp://example.com/h"), "$.listeners[0].url",
                         "must be an https:// URL"),
    "listener url without host": (write_target(L0 + ("url",), "https:///path"), "$.listeners[0].url",
                                  "with a host"),
    "listener url credentials": (write_target(L0 + ("url",), "https://u:p@example.com/h"),
                                 "$.listeners[0].url", "must not carry credentials"),
    "listener url bad port": (write_target(L0 + ("url",), "https://example.com:99999/"),
                              "$.listeners[0].url", "is not a valid URL"),
    "listener url not string": (write_target(L0 + ("url",), None), "$.listeners[0].url",
                                "must be an https:// URL"),
    "listener url whitespace": (write_target(L0 + ("url",), "https://exa mple.com/"),
                                "$.listeners[0].url", "whitespace"),
    "listener events empty": (write_target(L0 + ("events",), []), "$.listeners[0].events",
                              "at least one event"),
    "listener events not list": (write_target(L0 + ("events",), "order.*"), "$.listeners[0].events",
                                 "events must be a list"),
    "listener event without dot": (write_target(L0 + ("events",), ["order"]),
                                   "$.listeners[0].events[0]",
                                   "'aggregate_type.event_type' or 'aggregate_type.*'"),
    "listener event bare star": (write_target(L0 + ("events",), ["*"]), "$.listeners[0].events[0]",
                                 "must be {\"aggregate_type\", \"event_type\"}"),
    "listener unknown aggregate": (write_target(L0 + ("events",), ["invoice.*"]),
                                   "$.listeners[0].events[0]",
                                   "unknown aggregate type 'invoice'"),
    "listener unknown event": (write_target(L0 + ("events",), ["order.shipped"]),
                               "$.listeners[0].events[0]",
                               "aggregate type 'order' has no event type 'shipped'"),
    "listener duplicate event": (write_target(L0 + ("events",), ["order.paid", "order.paid"]),
                                 "$.listeners[0].events[1]", "duplicate subscription"),
    "listener secret_ref bad": (write_target(L0 + ("secret_ref",), "my secret!"),
                                "$.listeners[0].secret_ref",
                                "secret_ref must be a reference this system gave out"),
    # projections
    "projections not object": (write_target(("projections",), []), "$.projections",
                               "projections must be an object of named projections"),
    "projection bad name": (_rename(PR, "Open Orders"), "$.projections['Open Orders']",
                            "projection name 'Open Orders' is not a valid name"),
    "projection not object": (write_target(PR, []), "$.projections.open_orders",
                              "a projection must be an object"),
    "projection unknown key": (write_target(PR + ("sql",), "select 1"), "$.projections.open_orders.sql",
                               "unknown key 'sql' is not supported by this system "
                               "(allowed: source, handler)"),
    "projection missing source": (_del(PR + ("source",)), "$.projections.open_orders",
                                  "missing required key 'source'"),
    "projection missing handler": (_del(PR + ("handler",)), "$.projections.open_orders",
                                   "missing required key 'handler'"),
    "projection source empty": (write_target(PR + ("source",), []), "$.projections.open_orders.source",
                                "at least one aggregate type"),
    "projection source unknown": (write_target(PR + ("source",), ["order", "invoice"]),
                                  "$.projections.open_orders.source[1]",
                                  "unknown aggregate type 'invoice'"),
    "projection source duplicate": (write_target(PR + ("source",), ["order", "order"]),
                                    "$.projections.open_orders.source[1]", "duplicate"),
    "projection handler not list": (write_target(PR + ("handler",), "sum"),
                                    "$.projections.open_orders.handler",
                                    "handler must be a list"),
    "projection handler bad op": (write_target(PR + ("handler",), [{"container": {"image": "x"}}]),
                                  "$.projections.open_orders.handler[0].container",
                                  "unknown operation 'container'"),
}


@pytest.mark.parametrize("mutate, path, fragment", list(CASES.values()), ids=list(CASES))
def test_invalid_case(mutate, path, fragment):
    doc = spec()
    mutate(doc)
    assert_problem(doc, path, fragment)


@pytest.mark.parametrize("kind", ["wasm", "container", "http", "lambda", "webhook"])
def test_unsupported_implication_kind_refused_by_name(kind):
    doc = spec()
    doc["aggregate_types"]["order"]["events"]["paid"]["implications"] = [{kind: {"module": "m"}}]
    assert_problem(doc, f"{E}.paid.implications[0]",
                   f"implication kind '{kind}' is not supported by this system")


def test_unsupported_kind_beside_a_supported_one_is_still_refused():
    doc = spec()
    get(doc, *IM)[0]["wasm"] = {"module": "x"}
    assert_problem(doc, f"{IMPL}[0]", "implication kind 'wasm' is not supported")


@pytest.mark.parametrize("delay, seconds", [("5m", 300), ("300s", 300), ("24h", 86400),
                                            ("365d", 365 * 86400), ("007m", 420)])
def test_accepted_delays(delay, seconds):
    assert parse_duration(delay) == seconds
    doc = spec()
    get(doc, *SCHED)["delay"] = delay
    assert problems_of(doc) == []


@pytest.mark.parametrize("url", ["http://localhost/h", "http://127.0.0.1:8000/h",
                                 "http://[::1]:9000/h", "https://example.com",
                                 "https://hooks.example.com:8443/a?b=c"])
def test_accepted_listener_urls(url):
    doc = spec()
    doc["listeners"][0]["url"] = url
    assert problems_of(doc) == []


def test_emit_cycle_refused():
    doc = spec()
    customer = doc["aggregate_types"]["customer"]["events"]
    customer["order_paid"]["implications"] = [{"emit": {
        "aggregate_type": "order", "id": "$.data.order_id", "event_type": "paid"}}]
    found = [p for p in problems_of(doc) if "cycle" in p["message"]]
    assert found == [{  # reported once, at the emit that closes the loop
        "path": f"{E}.paid.implications[0].emit",
        "message": "emit implications form a cycle, which would never end: "
                   "customer.order_paid -> order.paid -> customer.order_paid"}]


def test_emit_self_cycle_refused():
    doc = spec()
    get(doc, *EV)["expired"]["implications"] = [{"emit": {
        "aggregate_type": "order", "id": "$.metadata.aggregate_id", "event_type": "expired"}}]
    assert_problem(doc, f"{E}.expired.implications[0].emit",
                   "cycle, which would never end: order.expired -> order.expired")


def test_schedule_breaks_an_emit_chain():
    doc = spec()  # order.created schedules order.expired; expired emitting created is fine
    get(doc, *EV)["expired"]["implications"] = [{"emit": {
        "aggregate_type": "order", "id": "$.metadata.aggregate_id", "event_type": "created",
        "data": {"customer_id": "$.data.customer_id"}}}]
    assert problems_of(doc) == []


# --- several problems in one answer -----------------------------------------------------

def test_every_problem_is_reported_together():
    doc = spec()
    doc["wasm"] = {"modules": ["a.wasm"]}
    doc["agent_types"] = ["user", "user"]
    get(doc, *CR)["schema"]["type"] = "array"
    get(doc, *SCHED)["delay"] = "1m"
    get(doc, *IM).append({"container": {"image": "busybox"}})
    doc["listeners"][0]["url"] = "http://example.com"
    doc["projections"]["open_orders"]["source"] = ["ghost"]
    doc["modules"]["sagas"]["fulfilment"]["trigger"]["event_type"] = "nope"
    found = {p["path"] for p in problems_of(doc)}
    assert {"$.wasm", "$.agent_types[1]", f"{CREATED}.schema.type",
            f"{IMPL}[1].schedule.delay", f"{IMPL}[2]", "$.listeners[0].url",
            "$.projections.open_orders.source[0]", f"{SAGA}.trigger.event_type"} <= found


def test_schema_lists_every_meta_schema_problem():
    doc = spec()
    get(doc, *CR)["schema"]["properties"] = {"a": {"type": "strin"}, "b": {"minLength": -1}}
    paths = {p["path"] for p in problems_of(doc)}
    assert {f"{CREATED}.schema.properties.a.type",
            f"{CREATED}.schema.properties.b.minLength"} <= paths


def test_broken_aggregate_types_does_not_cascade_into_unknown_references():
    doc = spec()
    doc["aggregate_types"] = "order"
    found = problems_of(doc)
    assert [p["path"] for p in found] == ["$.aggregate_types"]


def test_a_misdeclared_aggregate_is_still_known_to_references():
    doc = spec()
    get(doc, *O)["events"]["created"]["schema"] = 5  # broken, but order.created exists
    found = problems_of(doc)
    assert [p["path"] for p in found] == [f"{CREATED}.schema"]


@pytest.mark.parametrize("doc, path", [(None, "$"), ([], "$"), ("spec", "$"), (3, "$"),
                                       (True, "$")])
def test_not_an_object(doc, path):
    assert_problem(doc, path, "the spec must be an object")


# --- handler problems are re-rooted, and the checker never breaks validation ------------

def test_handler_problem_paths_are_rerooted(monkeypatch):
    from chalicelib.domain import ticks
    monkeypatch.setattr(ticks, "validate_handler",
                        lambda h: [{"path": "", "message": "whole"},
                                   {"path": "[1].set.value", "message": "arg"},
                                   {"path": "$[2]", "message": "dollar"}])
    found = [(p["path"], p["message"]) for p in problems_of(spec())
             if p["path"].startswith(f"{CREATED}.handler")]
    assert found == [(f"{CREATED}.handler", "whole"), (f"{CREATED}.handler[1].set.value", "arg"),
                     (f"{CREATED}.handler[2]", "dollar")]


def test_a_failing_handler_checker_is_a_problem_not_an_exception(monkeypatch):
    from chalicelib.domain import ticks

    def boom(handler):
        raise RuntimeError("checker bug")
    monkeypatch.setattr(ticks, "validate_handler", boom)
    assert_problem(spec(), f"{CREATED}.handler", "could not be checked: RuntimeError")


def test_key_path_quotes_odd_keys():
    assert key_path("$", "order") == "$.order"
    assert key_path("$", "a-b") == "$['a-b']"
    assert key_path("$", "it's") == "$['it\\'s']"
    assert key_path("$", 3) == "$['3']"


# --- never raises on any JSON ------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["$.data.x", "$.state", "$[0]", "24h", "order",
                                              "order.*", "https://x.io", "emit", "schedule"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["aggregate_types", "agent_types", "events", "schema",
                                       "handler", "implications", "emit", "schedule", "type",
                                       "$ref", "$schema", "properties", "order", "created",
                                       "listeners", "modules", "sagas", "projections", "set",
                                       "target", "value", "delay", "cancel_on", "id",
                                       "aggregate_type", "event_type", "data", "steps"])
                      | st.text(max_size=8), inner, max_size=5),
    max_leaves=30)


def _assert_well_formed(found):
    assert isinstance(found, list)
    for p in found:
        assert set(p) == {"path", "message"}
        assert isinstance(p["path"], str) and p["path"].startswith("$")
        assert isinstance(p["message"], str)


@PROPS
@given(JSON)
def test_never_raises_on_arbitrary_json(doc):
    _assert_well_formed(validate_spec(doc))


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


VALID_PATHS = [p for p in _paths(VALID) if p]


@PROPS
@given(st.sampled_from(VALID_PATHS), JSON)
def test_never_raises_when_any_part_of_a_valid_spec_is_replaced(where, replacement):
    doc = spec()
    get(doc, *where[:-1])[where[-1]] = replacement
    found = validate_spec(doc)
    _assert_well_formed(found)
    assert validate_spec(copy.deepcopy(doc)) == found  # deterministic


@PROPS
@given(JSON, JSON, st.dictionaries(st.text(max_size=6), st.sets(st.text(max_size=6),
                                                                 max_size=3), max_size=3))
def test_orphaned_never_raises(old, new, stored):
    out = orphaned(old, new, stored)
    assert isinstance(out, list) and all(isinstance(x, str) for x in out)


def test_deeply_nested_input_is_a_problem_not_a_crash():
    deep = {"type": "object"}
    node = deep
    for _ in range(3000):
        node["properties"] = {"x": {}}
        node = node["properties"]["x"]
    data = 1
    for _ in range(100):
        data = [data]
    doc = spec()
    get(doc, *CR)["schema"] = deep
    get(doc, *EMIT0)["data"] = {"a": data}
    found = problems_of(doc)
    assert {"path": f"{CREATED}.schema",
            "message": "schema is nested too deeply to be checked"} in found
    assert any(p["path"].startswith(f"{IMPL}[0].emit.data.a[0]") for p in found)


# --- orphaned ------------------------------------------------------------------------------

def test_orphaned_nothing_dropped():
    assert orphaned(VALID, spec(), {"order": {"created", "paid"}, "customer": {"registered"}}) == []


def test_orphaned_dropped_aggregate_type_with_events():
    new = spec()
    del new["aggregate_types"]["customer"]
    assert orphaned(VALID, new, {"customer": {"registered", "credited"}}) == ["customer"]


def test_orphaned_dropped_aggregate_type_without_events_is_fine():
    new = spec()
    del new["aggregate_types"]["customer"]
    assert orphaned(VALID, new, {"order": {"created"}}) == []


def test_orphaned_dropped_event_type_with_events():
    new = spec()
    del new["aggregate_types"]["order"]["events"]["paid"]
    assert orphaned(VALID, new, {"order": {"created", "paid"}}) == ["order.paid"]


def test_orphaned_dropped_event_type_without_events_is_fine():
    new = spec()
    del new["aggregate_types"]["order"]["events"]["expired"]
    assert orphaned(VALID, new, {"order": {"created", "paid"}}) == []


def test_orphaned_lists_everything_sorted():
    new = spec()
    del new["aggregate_types"]["customer"]
    del new["aggregate_types"]["order"]["events"]["paid"]
    del new["aggregate_types"]["order"]["events"]["expired"]
    stored = {"order": {"paid", "expired", "created"}, "customer": {"order_paid"}}
    assert orphaned(VALID, new, stored) == ["customer", "order.expired", "order.paid"]


def test_orphaned_type_present_with_empty_set_counts_as_stored():
    new = spec()
    del new["aggregate_types"]["customer"]
    assert orphaned(VALID, new, {"customer": set()}) == ["customer"]


def test_orphaned_ignores_names_the_old_spec_did_not_declare():
    # events left by an earlier forced deploy do not block every later deploy
    assert orphaned(VALID, spec(), {"invoice": {"issued"}, "order": {"refunded"}}) == []


def test_orphaned_renamed_event_type():
    new = spec()
    events = new["aggregate_types"]["order"]["events"]
    events["settled"] = events.pop("paid")
    assert orphaned(VALID, new, {"order": {"paid"}}) == ["order.paid"]


def test_orphaned_first_deploy_and_malformed_specs():
    assert orphaned(None, VALID, {"order": {"created"}}) == []
    assert orphaned(VALID, None, {"order": {"created"}}) == ["order"]
    assert orphaned(VALID, {"aggregate_types": []}, {"order": set()}) == ["order"]
    assert orphaned(VALID, spec(), {}) == []


def test_module_is_pure():
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(spec_validation))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    stdlib = {"__future__", "re", "typing", "urllib.parse"}
    assert all(name in stdlib or name.split(".")[0] == "jsonschema"
               or name.startswith("chalicelib.domain") for name in imported), imported


def test_a_bad_listener_secret_is_never_echoed():
    doc = spec()
    doc["listeners"][0]["secret"] = "whsec_S3cr3tValueWithATypo!!"
    found = problems_of(doc)
    assert [p["path"] for p in found] == ["$.listeners[0].secret"]
    assert "S3cr3tValue" not in str(found)
