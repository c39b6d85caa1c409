"""The tick interpreter: every operation and predicate, the validator, and properties.

Expected states are written out by hand from the shapes documented in
chalicelib/domain/ticks.py; the property tests compare fold with step-by-step
apply_handler (two different code paths: fold copies the state once).
"""

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain import jsonpath, ticks
from chalicelib.domain.ticks import TickError, apply_handler, fold, validate_handler

PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
META = {"actor": {"type": "user", "id": "u1"}}


def run(handler, data=None, state=None, metadata=META):
    return apply_handler(state if state is not None else {}, handler, data, metadata)


def op(kind, /, **args):
    return {kind: args}


def raises(handler, data=None, state=None, match=None, path=None):
    with pytest.raises(TickError, match=match) as info:
        run(handler, data, state)
    if path is not None:
        assert info.value.path == path
    return info.value


# --- paths ---------------------------------------------------------------------------------

def test_jsonpath_parse_and_render_round_trip():
    for text, parsed in [("$.state", ("state", ())),
                         ("$.data.items[0].sku", ("data", ("items", 0, "sku"))),
                         ("$.data.a-b.c_1.2024", ("data", ("a-b", "c_1", "2024"))),
                         ("$.data['a b']['it\\'s']", ("data", ("a b", "it's")))]:
        assert jsonpath.parse(text) == parsed
        assert jsonpath.render(*parsed) == text
    assert jsonpath.parse_relative("lines[2].qty") == ("lines", 2, "qty")


@pytest.mark.parametrize("bad", ["$", "$.", "$[0]", "$.a[01]", "$.a.", "$.a[-1]", "$.a b",
                                 "$.a[99999999999999999999]", "state.x", 5, None])
def test_jsonpath_rejects(bad):
    with pytest.raises(jsonpath.PathError):
        jsonpath.parse(bad)


def test_jsonpath_read_is_lenient():
    doc = {"a": [{"b": 1}], "s": "text"}
    assert jsonpath.get(doc, ("a", 0, "b")) == 1
    for segs in [("a", 1), ("a", "b"), ("s", "x"), ("x",), ("a", 0, "b", "c")]:
        assert jsonpath.get(doc, segs) is jsonpath.MISSING


# --- values ---------------------------------------------------------------------------------

def test_resolve_paths_literals_and_templates():
    scope = {"data": {"id": "o1", "n": 2, "list": [10, 20], "odd key": 1},
             "metadata": META, "state": {"count": 3}, "x": {"y": True}}
    assert ticks.resolve("$.data.id", scope) == "o1"
    assert ticks.resolve("$.data.list[1]", scope) == 20
    assert ticks.resolve("$.data['odd key']", scope) == 1
    assert ticks.resolve("$.metadata.actor.id", scope) == "u1"
    assert ticks.resolve("$.state.count", scope) == 3
    assert ticks.resolve("$.x.y", scope) is True
    assert ticks.resolve("$.data.nope", scope) is None
    assert ticks.resolve("$.data.list[5]", scope) is None
    for literal in ["plain", "$", "$5.00", "cost in $", 0, -1.5, True, None]:
        assert ticks.resolve(literal, scope) == literal
    assert ticks.resolve({"literal": "$.data.id"}, scope) == "$.data.id"
    assert ticks.resolve({"literal": {"a": "$.data.id"}}, scope) == {"a": "$.data.id"}
    # templates: members are values; a missing member is left out of objects, null in arrays
    assert ticks.resolve({"id": "$.data.id", "n": "$.data.n", "gone": "$.data.nope",
                          "nested": {"c": "$.state.count"}, "l": ["$.data.n", "$.data.nope"]},
                         scope) == {"id": "o1", "n": 2, "nested": {"c": 3}, "l": [2, None]}


def test_resolve_copies_and_reports_unknown_roots():
    data = {"list": [1, 2]}
    got = ticks.resolve("$.data.list", {"data": data})
    got.append(3)
    assert data == {"list": [1, 2]}
    assert ticks.resolve("$.state.x", {"data": {}}) is None  # absent roots read as missing
    with pytest.raises(TickError, match=r"\$\.item"):
        ticks.resolve("$.item.x", {"data": {}})
    with pytest.raises(TickError, match=r"is not \$.data, \$.metadata, \$.key, \$.type, @ \(the state\) or a let binding"):
        ticks.resolve("$.nobody", {})
    with pytest.raises(TickError, match="not a supported path"):
        ticks.resolve("$.data..x", {})


# --- set / merge / append ----------------------------------------------------------------------

def test_set_from_data_metadata_and_literal():
    h = [op("set", target="$.state.name", value="$.data.name"),
         op("set", target="$.state.by", value="$.metadata.actor.id"),
         op("set", target="$.state.raw", value={"literal": "$.data.name"}),
         op("set", target="$.state.copy", value="$.state.name")]
    assert run(h, {"name": "Ada"}) == {"name": "Ada", "by": "u1", "raw": "$.data.name",
                                       "copy": "Ada"}


def test_set_creates_intermediate_objects_even_over_null():
    assert run([op("set", target="$.state.a.b.c", value=1)]) == {"a": {"b": {"c": 1}}}
    assert run([op("set", target="$.state.a.b", value=1)], state={"a": None}) == {"a": {"b": 1}}


def test_set_missing_value_sets_null():
    assert run([op("set", target="$.state.x", value="$.data.nope")], {}) == {"x": None}


def test_set_array_element_and_errors():
    state = {"l": [1, 2], "s": "text"}
    assert run([op("set", target="$.state.l[1]", value=9)], state=state) == {"l": [1, 9],
                                                                             "s": "text"}
    raises([op("set", target="$.state.l[2]", value=9)], state=state, match="out of range",
           path="[0].set")
    raises([op("set", target="$.state.s.x", value=9)], state=state, match="not an object")
    raises([op("set", target="$.state.none[0]", value=9)], state=state,
           match="missing, not an array")
    raises([op("set", target="$.state.l.x", value=9)], state=state, match="an array, not an obj")


def test_set_whole_state():
    assert run([op("set", target="$.state", value="$.data")], {"a": 1}, {"old": 1}) == {"a": 1}
    raises([op("set", target="$.state", value="$.data.n")], {"n": 1},
           match="state must stay an object")


def test_merge():
    h = [op("merge", target="$.state.profile", value={"name": "$.data.name",
                                                     "email": "$.data.email"})]
    assert run(h, {"name": "a", "email": "e"}) == {"profile": {"name": "a", "email": "e"}}
    # a partial event only touches the fields it carries
    assert run(h, {"name": "b"}, {"profile": {"name": "a", "email": "e", "x": 1}}) == \
        {"profile": {"name": "b", "email": "e", "x": 1}}
    assert run([op("merge", target="$.state", value="$.data")], {"b": 2}, {"a": 1}) == \
        {"a": 1, "b": 2}
    raises(h, {}, {"profile": [1]}, match="cannot merge into .*an array", path="[0].merge")
    raises([op("merge", target="$.state.p", value="$.data.n")], {"n": 3},
           match="value must be an object, got a number")


def test_append():
    h = [op("append", target="$.state.items", value={"id": "$.data.id"})]
    s1 = run(h, {"id": 1})
    assert s1 == {"items": [{"id": 1}]}
    assert run(h, {"id": 2}, s1) == {"items": [{"id": 1}, {"id": 2}]}
    assert run(h, {"id": 3}, {"items": None}) == {"items": [{"id": 3}]}
    raises(h, {"id": 1}, {"items": {"a": 1}}, match="cannot append to .*an object, not an array")


# --- remove / filter ---------------------------------------------------------------------------

def test_remove_key_element_and_missing():
    state = {"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2, 3], "s": "x"}
    assert run([op("remove", target="$.state.a")], state=state) == \
        {"b": {"c": 2, "d": 3}, "l": [1, 2, 3], "s": "x"}
    assert run([op("remove", target="$.state.b.c"), op("remove", target="$.state.l[1]")],
               state=state)["b"] == {"d": 3}
    assert run([op("remove", target="$.state.l[1]")], state=state)["l"] == [1, 3]
    for absent in ["$.state.zz", "$.state.zz.y", "$.state.s.y", "$.state.l[7]", "$.state.a[0]"]:
        assert run([op("remove", target=absent)], state=state) == state


def test_remove_where():
    state = {"l": [{"id": 1, "done": True}, {"id": 2, "done": False}, {"id": 3, "done": True}]}
    h = [op("remove", target="$.state.l", where={"equals": ["$.item.done", True]})]
    assert run(h, state=state) == {"l": [{"id": 2, "done": False}]}
    by_data = [op("remove", target="$.state.l", where={"equals": ["$.item.id", "$.data.id"]})]
    assert run(by_data, {"id": 3}, state)["l"] == state["l"][:2]
    assert run(h, state={}) == {}
    raises(h, state={"l": "x"}, match="cannot remove elements from .*a string")


def test_filter():
    state = {"n": [1, 5, 10, "x"]}
    assert run([op("filter", target="$.state.n", where={"gte": ["$.item", 5]})],
               state=state) == {"n": [5, 10]}
    assert run([op("filter", target="$.state.n", where={"gte": ["$.item", 5]})]) == {}
    raises([op("filter", target="$.state.n", where={"exists": "$.item"})], state={"n": 1},
           match="cannot filter .*a number")


# --- increment / decrement ---------------------------------------------------------------------

def test_increment_decrement():
    assert run([op("increment", target="$.state.c")]) == {"c": 1}
    assert run([op("increment", target="$.state.a.b", by="$.data.n")], {"n": 5}) == \
        {"a": {"b": 5}}
    assert run([op("decrement", target="$.state.c")]) == {"c": -1}
    assert run([op("decrement", target="$.state.c", by=2.5)], state={"c": 1}) == {"c": -1.5}
    assert run([op("increment", target="$.state.c", by=-3)], state={"c": None}) == {"c": -3}
    assert run([op("increment", target="$.state.l[0]")], state={"l": [1]}) == {"l": [2]}


@pytest.mark.parametrize("state,by,match", [
    ({"c": "1"}, 1, "cannot increment .*a string, not a number"),
    ({"c": True}, 1, "a boolean, not a number"),
    ({"c": [1]}, 1, "an array, not a number"),
    ({}, "$.data.s", "by must be a number, got a string"),
    ({}, "$.data.nope", "by must be a number, got null"),
    ({}, "$.data.b", "by must be a number, got a boolean"),
    ({"c": 1.5e308}, 1.5e308, "not a finite number"),
    ({"c": 10 ** 400}, 0.5, "too large"),
])
def test_increment_errors(state, by, match):
    raises([op("increment", target="$.state.c", by=by)], {"s": "x", "b": True}, state,
           match=match, path="[0].increment")


# --- map ---------------------------------------------------------------------------------------

def test_map_objects_and_reading_state_before_the_map():
    state = {"l": [{"q": 1}, {"q": 2}], "bonus": 10}
    h = [op("map", target="$.state.l", apply=[
        op("increment", target="$.item.q", by="$.state.bonus"),
        op("set", target="$.item.first", value="$.state.l[0].q"),  # state before the map
        op("set", target="$.item.double", value="$.item.q")])]     # the item as changed
    assert run(h, state=state) == {"l": [{"q": 11, "first": 1, "double": 11},
                                         {"q": 12, "first": 1, "double": 12}], "bonus": 10}


def test_map_scalars_and_whole_item():
    h = [op("map", target="$.state.n", apply=[op("increment", target="$.item", by=10)])]
    assert run(h, state={"n": [1, 2]}) == {"n": [11, 12]}
    h = [op("map", target="$.state.n", apply=[op("set", target="$.item", value={"v": "$.item"})])]
    assert run(h, state={"n": [1, 2]}) == {"n": [{"v": 1}, {"v": 2}]}
    assert run(h) == {}


def test_map_nested_with_let_for_the_outer_item():
    state = {"orders": [{"id": "a", "lines": [{"q": 1}, {"q": 2}]}, {"id": "b", "lines": []}]}
    h = [op("map", target="$.state.orders", apply=[
        op("let", name="order", value="$.item", **{"in": [
            op("map", target="$.item.lines", apply=[
                op("set", target="$.item.order", value="$.order.id")])]})])]
    assert run(h, state=state)["orders"][0]["lines"] == [{"q": 1, "order": "a"},
                                                         {"q": 2, "order": "a"}]


def test_map_errors_name_the_element():
    h = [op("map", target="$.state.l", apply=[op("increment", target="$.item.q")])]
    err = raises(h, state={"l": [{"q": 1}, {"q": "x"}]}, match=r"element 1 of \$\.state\.l")
    assert err.path == "[0].map.apply[0].increment"
    raises(h, state={"l": {"q": 1}}, match="cannot map")


# --- update_where ------------------------------------------------------------------------------

def test_update_where_set_and_merge():
    state = {"l": [{"id": 1, "s": "open"}, {"id": 2, "s": "open"}, "not an object"]}
    h = [op("update_where", target="$.state.l", where={"equals": ["$.item.id", "$.data.id"]},
            set={"s": "$.data.s", "prev": "$.item.s", "meta.by": "$.metadata.actor.id"},
            merge={"touched": True})]
    assert run(h, {"id": 2, "s": "closed"}, state)["l"] == [
        {"id": 1, "s": "open"},
        {"id": 2, "s": "closed", "prev": "open", "meta": {"by": "u1"}, "touched": True},
        "not an object"]
    assert run(h, {"id": 2}, {}) == {}


def test_update_where_errors():
    h = [op("update_where", target="$.state.l", where={"exists": "$.item"}, set={"a": 1})]
    raises(h, state={"l": [1]}, match=r"cannot update \$\.state\.l\[0\]: it is a number")
    raises(h, state={"l": {}}, match="not an array")
    raises([op("update_where", target="$.state.l", where={"exists": "$.item"},
               merge="$.data.n")], {"n": 1}, {"l": [{}]}, match="merge must be an object")


# --- upsert / append_unique --------------------------------------------------------------------

def test_upsert_merge_and_replace():
    h = [op("upsert", target="$.state.l", match="sku", value={"sku": "$.data.sku",
                                                              "q": "$.data.q"})]
    s = run(h, {"sku": "a", "q": 1})
    assert s == {"l": [{"sku": "a", "q": 1}]}
    s = run(h, {"sku": "b", "q": 2}, s)
    s["l"][0]["extra"] = True
    s = run(h, {"sku": "a", "q": 5}, s)
    assert s == {"l": [{"sku": "a", "q": 5, "extra": True}, {"sku": "b", "q": 2}]}
    h[0]["upsert"]["mode"] = "replace"
    assert run(h, {"sku": "a", "q": 6}, s)["l"][0] == {"sku": "a", "q": 6}


def test_upsert_nested_match_and_errors():
    h = [op("upsert", target="$.state.l", match="k.id", value="$.data")]
    s = run(h, {"k": {"id": 1}, "v": 1}, {"l": [5, {"k": {"id": 1}, "v": 0}]})
    assert s == {"l": [5, {"k": {"id": 1}, "v": 1}]}
    raises(h, {"v": 1}, match="no 'k.id' field")
    raises(h, {"k": {"id": 1}}, {"l": "x"}, match="not an array")
    raises([op("upsert", target="$.state.l", match="id", value="$.data.n")], {"n": 1},
           match="value must be an object")


def test_append_unique():
    h = [op("append_unique", target="$.state.tags", value="$.data.tag")]
    s = run(h, {"tag": "a"})
    s = run(h, {"tag": "a"}, s)
    s = run(h, {"tag": "b"}, s)
    assert s == {"tags": ["a", "b"]}
    deep = [op("append_unique", target="$.state.l", value="$.data")]
    assert run(deep, {"x": [1, 2]}, {"l": [{"x": [1, 2.0]}]}) == {"l": [{"x": [1, 2.0]}]}
    assert run(deep, {"x": True}, {"l": [{"x": 1}]}) == {"l": [{"x": 1}, {"x": True}]}
    keyed = [op("append_unique", target="$.state.l", value="$.data", match="id")]
    assert run(keyed, {"id": 1, "v": 2}, {"l": [{"id": 1, "v": 1}]}) == {"l": [{"id": 1, "v": 1}]}
    assert run(keyed, {"id": 2}, {"l": [{"id": 1}]}) == {"l": [{"id": 1}, {"id": 2}]}
    raises(keyed, {"v": 1}, match="no 'id' field")
    raises(keyed, "scalar", match="value must be an object when match is given")
    raises(h, {"tag": 1}, {"tags": {}}, match="not an array")


# --- *_at operations ---------------------------------------------------------------------------

def test_set_at_key_and_index():
    h = [op("set_at", target="$.state.users", key="$.data.uid", value={"n": "$.data.n"})]
    assert run(h, {"uid": "u9", "n": 1}) == {"users": {"u9": {"n": 1}}}
    assert run(h, {"uid": 42, "n": 1}) == {"users": {"42": {"n": 1}}}  # integers become keys
    assert run([op("set_at", target="$.state", key="$.data.k", value=1)], {"k": "top"}) == \
        {"top": 1}
    h = [op("set_at", target="$.state.l", index="$.data.i", value="$.data.v")]
    assert run(h, {"i": 1, "v": "x"}, {"l": [0, 0]}) == {"l": [0, "x"]}
    raises(h, {"i": 2, "v": "x"}, {"l": [0, 0]}, match="index 2 is out of range")
    raises(h, {"i": 0, "v": "x"}, match="missing, not an array")
    raises(h, {"i": -1}, {"l": [0]}, match="non-negative integer")
    raises(h, {"i": True}, {"l": [0]}, match="non-negative integer, got a boolean")
    raises([op("set_at", target="$.state.m", key="$.data.k", value=1)], {"k": True},
           match="key must be a string")
    raises([op("set_at", target="$.state.m", key="x", value=1)], state={"m": [1]},
           match="not an object")
    raises([op("set_at", target="$.state.m", value=1)], match="exactly one of key")


def test_merge_at():
    h = [op("merge_at", target="$.state.users", key="$.metadata.actor.id",
            value={"last": "$.data.t"})]
    s = run(h, {"t": 1})
    assert s == {"users": {"u1": {"last": 1}}}
    s["users"]["u1"]["keep"] = 0
    assert run(h, {"t": 2}, s) == {"users": {"u1": {"last": 2, "keep": 0}}}
    assert run([op("merge_at", target="$.state.l", index=0, value={"a": 1})],
               state={"l": [{"b": 2}]}) == {"l": [{"b": 2, "a": 1}]}
    raises(h, {"t": 1}, {"users": {"u1": 5}}, match=r"cannot merge into \$\.state\.users\.u1")


def test_remove_at():
    state = {"m": {"a": 1, "b": 2}, "l": [1, 2, 3]}
    assert run([op("remove_at", target="$.state.m", key="a")], state=state)["m"] == {"b": 2}
    assert run([op("remove_at", target="$.state.m", key="zz")], state=state) == state
    assert run([op("remove_at", target="$.state.l", index=0)], state=state)["l"] == [2, 3]
    assert run([op("remove_at", target="$.state.l", index=9)], state=state) == state
    assert run([op("remove_at", target="$.state.none", key="a")], state=state) == state
    raises([op("remove_at", target="$.state.l", key="a")], state=state, match="not an object")
    raises([op("remove_at", target="$.state.m", index=0)], state=state, match="not an array")


def test_increment_at():
    h = [op("increment_at", target="$.state.votes", key="$.data.choice")]
    s = run(h, {"choice": "yes"})
    s = run(h, {"choice": "yes"}, s)
    assert run(h, {"choice": "no"}, s) == {"votes": {"yes": 2, "no": 1}}
    assert run([op("increment_at", target="$.state.l", index=1, by=-2)],
               state={"l": [0, 5]}) == {"l": [0, 3]}
    assert run([op("increment_at", target="$.state.l", index=0)], state={"l": [None]}) == \
        {"l": [1]}
    raises(h, {"choice": "yes"}, {"votes": {"yes": "many"}}, match="not a number")
    raises([op("increment_at", target="$.state.l", index=3)], state={"l": []},
           match="out of range")


# --- conditional / let -------------------------------------------------------------------------

def test_conditional():
    h = [op("conditional", **{"if": {"equals": ["$.data.kind", "a"]},
                              "then": [op("set", target="$.state.k", value="A")],
                              "else": [op("set", target="$.state.k", value="other")]})]
    assert run(h, {"kind": "a"}) == {"k": "A"}
    assert run(h, {"kind": "b"}) == {"k": "other"}
    no_else = [op("conditional", **{"if": {"exists": "$.data.x"},
                                    "then": [op("increment", target="$.state.n")]})]
    assert run(no_else, {}) == {}
    assert run(no_else, {"x": 0}) == {"n": 1}


def test_nested_conditional_and_let():
    h = [op("let", name="amount", value="$.data.amount", **{"in": [
        op("conditional", **{
            "if": {"gt": ["$.amount", 100]},
            "then": [op("let", name="amount", value="$.state.cap", **{"in": [  # shadows
                op("set", target="$.state.charged", value="$.amount")]}),
                op("set", target="$.state.outer", value="$.amount")],
            "else": [op("conditional", **{
                "if": {"and": [{"gt": ["$.amount", 0]}, {"not": {"exists": "$.state.frozen"}}]},
                "then": [op("increment", target="$.state.total", by="$.amount")],
                "else": [op("append", target="$.state.rejected", value="$.amount")]})]})]})]
    assert run(h, {"amount": 500}, {"cap": 100}) == {"cap": 100, "charged": 100, "outer": 500}
    assert run(h, {"amount": 5}, {"total": 1}) == {"total": 6}
    assert run(h, {"amount": 5}, {"frozen": True}) == {"frozen": True, "rejected": [5]}
    assert run(h, {"amount": -1}) == {"rejected": [-1]}


def test_let_binds_a_snapshot_and_is_scoped():
    h = [op("let", name="before", value="$.state.l", **{"in": [
        op("append", target="$.state.l", value=2),
        op("set", target="$.state.was", value="$.before")]})]
    assert run(h, state={"l": [1]}) == {"l": [1, 2], "was": [1]}
    after = [op("let", name="x", value=1, **{"in": []}), op("set", target="$.state.y", value="$.x")]
    raises(after, match=r"\$\.x is not \$\.data, \$\.metadata", path="[1].set")
    raises([op("let", name="data", value=1, **{"in": []})], match="name must be an identifier")


# --- predicates ------------------------------------------------------------------------------

SCOPE = {"data": {"n": 5, "f": 5.0, "s": "b", "t": True, "z": None, "l": [1, "x", {"a": 1}],
                  "o": {"a": [1, 2]}},
         "metadata": META, "state": {"owner": "u1", "empty": None}}


@pytest.mark.parametrize("pred,expected", [
    ({"equals": ["$.data.n", 5]}, True),
    ({"equals": ["$.data.n", "$.data.f"]}, True),            # 5 == 5.0
    ({"equals": ["$.data.t", 1]}, False),                    # true is not 1
    ({"equals": [1, True]}, False),
    ({"equals": ["$.data.o", {"literal": {"a": [1, 2.0]}}]}, True),
    ({"equals": ["$.data.o", {"a": [1, 3]}]}, False),
    ({"equals": ["$.data.missing", None]}, True),            # missing reads as null
    ({"equals": ["$.data.s", {"literal": "b"}]}, True),
    ({"equals": ["$.metadata.actor.id", "$.state.owner"]}, True),
    ({"not_equals": ["$.data.s", "c"]}, True),
    ({"not_equals": ["$.data.n", 5.0]}, False),
    ({"gt": ["$.data.n", 4]}, True), ({"gt": ["$.data.n", 5]}, False),
    ({"gte": ["$.data.n", 5]}, True), ({"gte": ["$.data.n", 5.5]}, False),
    ({"lt": ["$.data.n", 5.5]}, True), ({"lt": ["$.data.n", 5]}, False),
    ({"lte": ["$.data.n", 5]}, True), ({"lte": [6, "$.data.n"]}, False),
    ({"gt": ["$.data.s", "a"]}, True), ({"lt": ["$.data.s", "a"]}, False),  # strings
    ({"gt": ["$.data.s", 1]}, False), ({"lte": ["$.data.s", 1]}, False),  # incomparable
    ({"gt": ["$.data.t", 0]}, False), ({"lt": ["$.data.missing", 1]}, False),
    ({"in": ["$.data.n", [1, 5]]}, True),
    ({"in": ["$.data.n", "$.data.l"]}, False),
    ({"in": [{"a": 1.0}, "$.data.l"]}, True),
    ({"in": [True, [1]]}, False),
    ({"in": ["$.data.s", "$.data.s"]}, False),               # not an array: false
    ({"not_in": ["$.data.s", ["a", "c"]]}, True),
    ({"not_in": ["$.data.s", ["a", "b"]]}, False),
    ({"not_in": ["$.data.s", "$.data.nope"]}, True),
    ({"exists": "$.state.owner"}, True),
    ({"exists": "$.state.empty"}, False),                    # null counts as absent
    ({"exists": "$.state.nope"}, False),
    ({"exists": "$.data.l[2].a"}, True),
    ({"exists": "$.data.l[3]"}, False),
    ({"and": [{"exists": "$.data.n"}, {"equals": ["$.data.s", "b"]}]}, True),
    ({"and": [{"exists": "$.data.n"}, {"equals": ["$.data.s", "c"]}]}, False),
    ({"or": [{"exists": "$.data.nope"}, {"equals": ["$.data.s", "b"]}]}, True),
    ({"or": [{"exists": "$.data.nope"}, {"exists": "$.data.z"}]}, False),
    ({"not": {"exists": "$.data.nope"}}, True),
    ({"not": {"not": {"equals": [1, 1]}}}, True),
])
def test_predicates(pred, expected):
    assert ticks.evaluate_predicate(pred, SCOPE) is expected
    assert validate_handler([op("conditional", **{"if": pred, "then": []})]) == []


def test_predicate_short_circuits():
    # the second operand would fail; and/or stop at the first decisive one
    bad = {"equals": ["$.nobody", 1]}
    assert ticks.evaluate_predicate({"and": [{"equals": [1, 2]}, bad]}, SCOPE) is False
    assert ticks.evaluate_predicate({"or": [{"equals": [1, 1]}, bad]}, SCOPE) is True


@pytest.mark.parametrize("pred,match", [
    ({"equal": [1, 1]}, "unknown predicate"),
    ({"equals": [1]}, "two values"),
    ({"gt": 1}, "two values"),
    ({"exists": "owner"}, "takes a path"),
    ({"and": []}, "non-empty array"),
    ({"or": {"exists": "$.data.n"}}, "non-empty array"),
    ({"exists": "$.data.n", "not": {}}, "exactly one key"),
    ("$.data.n", "exactly one key"),
    ({"equals": ["$.item", 1]}, r"\$\.item"),
])
def test_predicate_errors(pred, match):
    with pytest.raises(TickError, match=match):
        ticks.evaluate_predicate(pred, SCOPE)


def test_item_inside_where_is_the_innermost_element():
    state = {"groups": [{"members": [{"id": 1}, {"id": 2}]}, {"members": [{"id": 3}]}]}
    h = [op("map", target="$.state.groups", apply=[
        op("filter", target="$.item.members", where={"gt": ["$.item.id", 1]})])]
    assert run(h, state=state) == {"groups": [{"members": [{"id": 2}]}, {"members": [{"id": 3}]}]}


# --- purity ------------------------------------------------------------------------------------

EVERYTHING = [
    op("set", target="$.state.name", value="$.data.name"),
    op("merge", target="$.state.profile", value="$.data.profile"),
    op("append", target="$.state.items", value="$.data.item"),
    op("append", target="$.state.tags", value="$.data.tag"),
    op("increment", target="$.state.count", by="$.data.qty"),
    op("decrement", target="$.state.left"),
    op("filter", target="$.state.items", where={"not_equals": ["$.item.sku", "gone"]}),
    op("map", target="$.state.items", apply=[op("set", target="$.item.seen", value=True)]),
    op("update_where", target="$.state.items", where={"equals": ["$.item.sku", "a"]},
       set={"flag": "$.data.profile"}, merge="$.data.profile"),
    op("upsert", target="$.state.lines", match="sku", value="$.data.item"),
    op("append_unique", target="$.state.uniq", value="$.data.item", match="sku"),
    op("set_at", target="$.state.by_sku", key="$.data.item.sku", value="$.data.item"),
    op("merge_at", target="$.state.by_user", key="$.metadata.actor.id", value="$.data.profile"),
    op("increment_at", target="$.state.totals", key="$.data.item.sku", by="$.data.qty"),
    op("remove_at", target="$.state.by_sku", key="nothing"),
    op("remove", target="$.state.tags", where={"equals": ["$.item", "drop"]}),
    op("conditional", **{"if": {"or": [{"exists": "$.data.name"}, {"in": [1, [1]]}]},
                         "then": [op("let", name="p", value="$.data.profile", **{"in": [
                             op("set", target="$.state.last_profile", value="$.p")]})]}),
]


def test_everything_handler_is_valid_and_uses_every_operation():
    assert validate_handler(EVERYTHING) == []
    used = set()

    def walk(ops):
        for o in ops:
            (name, args), = o.items()
            used.add(name)
            for k in ("apply", "then", "else", "in"):
                walk(args.get(k, []))
    walk(EVERYTHING)
    assert used == set(ticks.OPERATIONS)
    assert len(ticks.OPERATIONS) == 17 and len(ticks.PREDICATES) == 12


def test_inputs_are_never_mutated_and_outputs_never_alias_them():
    state = {"items": [{"sku": "a", "qty": 1}], "profile": {"x": 1}, "tags": ["drop"],
             "lines": [{"sku": "a", "n": 1}], "uniq": [], "by_user": {"u1": {"old": 1}}}
    data = {"name": "n", "profile": {"p": [1]}, "item": {"sku": "a", "qty": [2]}, "tag": "t",
            "qty": 2}
    metadata = copy.deepcopy(META)
    handler = copy.deepcopy(EVERYTHING)
    before = copy.deepcopy((state, handler, data, metadata))
    out = apply_handler(state, handler, data, metadata)
    assert (state, handler, data, metadata) == before
    assert out != state
    # mutate every container of the output: no input may change
    def scribble(v):
        if isinstance(v, dict):
            for x in list(v.values()):
                scribble(x)
            v["scribbled"] = 1
        elif isinstance(v, list):
            for x in v:
                scribble(x)
            v.append("scribbled")
    scribble(out)
    assert (state, handler, data, metadata) == before


def test_a_failing_event_changes_nothing():
    state = {"c": 1}
    h = [op("increment", target="$.state.c"), op("append", target="$.state.c", value=1)]
    raises(h, state=state, path="[1].append")
    assert state == {"c": 1}


def test_apply_handler_state_argument():
    assert apply_handler(None, [op("set", target="$.state.a", value=1)], None, None) == {"a": 1}
    with pytest.raises(TickError, match="state must be an object"):
        apply_handler([], [], None, None)


# --- fold --------------------------------------------------------------------------------------

def test_fold_chains_and_reports_the_failing_event():
    inc = [op("increment", target="$.state.n", by="$.data")]
    assert fold([(inc, 1, None), (inc, 2, None)]) == {"n": 3}
    initial = {"n": 10}
    assert fold([(inc, 1, None)], initial) == {"n": 11}
    assert initial == {"n": 10}
    assert fold([]) == {}
    with pytest.raises(TickError) as info:
        fold([(inc, 1, None), (inc, "x", None)])
    assert info.value.event_index == 1
    with pytest.raises(TickError, match="tuple"):
        fold([(inc, 1)])


def test_deterministic():
    data = {"name": "n", "profile": {"b": 1, "a": 2}, "item": {"sku": "z", "qty": 1}, "tag": "t",
            "qty": 1}
    outs = {json.dumps(apply_handler({}, EVERYTHING, data, META)) for _ in range(3)}
    assert len(outs) == 1


# --- malformed handlers at apply time ---------------------------------------------------------

@pytest.mark.parametrize("handler,match", [
    ({"set": {}}, "must be an array of operations"),
    ([5], "exactly one key"),
    ([{"set": {"target": "$.state.a", "value": 1}, "merge": {}}], "exactly one key"),
    ([{"frob": {}}], "unknown operation 'frob'"),
    ([{"set": [1]}], "arguments must be an object"),
    ([{"set": {"target": "$.state.a"}}], "missing argument 'value'"),
    ([{"set": {"target": "$.state.a", "value": 1, "extra": 2}}], "unknown argument"),
    ([{"set": {"target": "$.data.a", "value": 1}}], "must be a path into the state"),
    ([{"set": {"target": 7, "value": 1}}], "path must be a string"),
    ([{"remove": {"target": "$.state"}}], "itself"),
    ([{"upsert": {"target": "$.state.l", "match": "id", "value": {"id": 1}, "mode": "x"}}],
     "mode"),
    ([{"upsert": {"target": "$.state.l", "match": "$.id", "value": {"id": 1}}}], "field path"),
    ([{"update_where": {"target": "$.state.l", "where": {"exists": "$.item"}}}], "set, merge"),
    ([{"conditional": {"if": {"exists": "$.data"}, "then": {}}}], "array of operations"),
    ([{"let": {"name": "x", "value": 1, "in": "nope"}}], "array of operations"),
])
def test_malformed_handlers_raise_tick_errors(handler, match):
    raises(handler, {}, {"l": [{"id": 1}]}, match=match)
    assert validate_handler(handler) != []


def test_too_deep_nesting_is_a_tick_error():
    h = []
    for _ in range(5000):
        h = [op("conditional", **{"if": {"exists": "$.data"}, "then": h})]
    with pytest.raises(TickError, match="nested too deeply"):
        run(h, {"x": 1})
    assert any("nested more than 32 levels" in p["message"] for p in validate_handler(h))


# --- validate_handler ---------------------------------------------------------------------------

def T(**args):  # noqa: N802 - a conditional wrapper, to check nested paths
    return op("conditional", **{"if": {"exists": "$.data"}, "then": [args.pop("inner")]})


@pytest.mark.parametrize("handler,path,fragment", [
    ({"set": {}}, "", "must be an array"),
    ([5], "[0]", "exactly one key"),
    ([{}], "[0]", "exactly one key"),
    ([{"set": {}, "merge": {}}], "[0]", "2 keys"),
    ([{"frob": {}}], "[0].frob", "unknown operation 'frob'"),
    ([{"set": None}], "[0].set", "arguments of set must be an object"),
    ([op("set", target="$.state.a")], "[0].set.value", "needs the argument 'value'"),
    ([op("set", target="$.state.a", value=1, val=2)], "[0].set.val", "unknown argument 'val'"),
    ([op("set", target=5, value=1)], "[0].set.target", "must be a path"),
    ([op("set", target="$.state..a", value=1)], "[0].set.target", "not a supported path"),
    ([op("set", target="$.data.a", value=1)], "[0].set.target", "must be a path into the state"),
    ([op("set", target="$.state", value=5)], "[0].set.value", "the new state must be an object"),
    ([op("append", target="$.state", value=5)], "[0].append.target", "cannot target the state"),
    ([op("set", target="$.state.a", value="$.dta.x")], "[0].set.value", "$.dta is not $.data"),
    ([op("set", target="$.state.a", value="$.data.a b")], "[0].set.value", "literal"),
    ([op("set", target="$.state.a", value="$.item")], "[0].set.value", "only inside where"),
    ([op("set", target="$.state.a", value={"x": ["$.bad"]})], "[0].set.value.x[0]",
     "$.bad is not"),
    ([op("set", target="$.state.a", value={"bad key": "$.q"})], "[0].set.value['bad key']",
     "$.q is not"),
    ([op("set", target="$.state.a", value=math.nan)], "[0].set.value", "finite"),
    ([op("set", target="$.state.a", value={"literal": [math.inf]})],
     "[0].set.value.literal[0]", "finite"),
    ([op("set", target="$.state.a", value={1, 2})], "[0].set.value", "set is not a JSON value"),
    ([op("merge", target="$.state.a", value=[1])], "[0].merge.value", "must be an object"),
    ([op("merge", target="$.state.a", value={"literal": 1})], "[0].merge.value",
     "must be an object"),
    ([op("increment", target="$.state.a", by="1")], "[0].increment.by", "must be a number"),
    ([op("decrement", target="$.state.a", by=True)], "[0].decrement.by", "must be a number"),
    ([op("remove", target="$.state.l", where={"id": "$.dta.id"})], "[0].remove.where.id",
     "$.dta is not $.data"),
    ([op("remove", target="$.state.l", where={"a b": 1})], "[0].remove.where['a b']",
     "is not a supported path"),
    ([op("filter", target="$.state.l")], "[0].filter.where", "needs the argument 'where'"),
    ([op("filter", target="$.state.l", where=[])], "[0].filter.where", "exactly one key"),
    ([op("filter", target="$.state.l", where={"equals": [1, 2, 3]})],
     "[0].filter.where.equals", "two values"),
    ([op("filter", target="$.state.l", where={"exists": 1})], "[0].filter.where.exists",
     "takes a path"),
    ([op("filter", target="$.state.l", where={"and": []})], "[0].filter.where.and",
     "non-empty array"),
    ([op("filter", target="$.state.l", where={"or": [{"not": 5}]})],
     "[0].filter.where.or[0].not", "exactly one key"),
    ([op("filter", target="$.state.l", where={"in": ["$.item", "abc"]})],
     "[0].filter.where.in[1]", "needs an array"),
    ([op("filter", target="$.state.l", where={"gt": ["$.item", None]})],
     "[0].filter.where.gt[1]", "compares numbers or strings"),
    ([op("map", target="$.state.l", apply={})], "[0].map.apply", "must be an array"),
    ([op("map", target="$.state.l", apply=[op("set", target="$.state.x", value=1)])],
     "[0].map.apply[0].set.target", "a path into the element"),
    ([op("map", target="$.state.l", apply=[op("remove", target="$.item")])],
     "[0].map.apply[0].remove.target", "cannot delete the element"),
    ([op("update_where", target="$.state.l", where={"exists": "$.item"})],
     "[0].update_where", "needs set"),
    ([op("update_where", target="$.state.l", where={"exists": "$.item"}, set={})],
     "[0].update_where.set", "non-empty object"),
    ([op("update_where", target="$.state.l", where={"exists": "$.item"}, set={"a..b": 1})],
     "[0].update_where.set['a..b']", "not a supported path"),
    ([op("update_where", target="$.state.l", where={"exists": "$.item"}, merge="text")],
     "[0].update_where.merge", "must be an object"),
    ([op("upsert", target="$.state.l", match="$.id", value={})], "[0].upsert.match",
     "not a field path"),
    ([op("upsert", target="$.state.l", match="id", value={}, mode="patch")],
     "[0].upsert.mode", "'merge' or 'replace'"),
    ([op("upsert", target="$.state.l", match="id", value=3)], "[0].upsert.value",
     "must be an object"),
    ([op("append_unique", target="$.state.l", value=1, match="id")],
     "[0].append_unique.value", "with match, the value must be an object"),
    ([op("append_unique", target="$.state.l", value=1, match=3)],
     "[0].append_unique.match", "must be a string"),
    ([op("set_at", target="$.state.m", value=1)], "[0].set_at", "exactly one of key"),
    ([op("set_at", target="$.state.m", key="a", index=0, value=1)], "[0].set_at",
     "exactly one of key"),
    ([op("set_at", target="$.state.m", key=True, value=1)], "[0].set_at.key",
     "must be a string, an integer"),
    ([op("merge_at", target="$.state.m", index=-1, value={})], "[0].merge_at.index",
     "non-negative integer"),
    ([op("merge_at", target="$.state.m", index=0, value=[])], "[0].merge_at.value",
     "must be an object"),
    ([op("remove_at", target="$.state", index=0)], "[0].remove_at.index",
     "the state is an object"),
    ([op("increment_at", target="$.state.m", key="a", by="x")], "[0].increment_at.by",
     "must be a number"),
    ([op("conditional", then=[])], "[0].conditional.if", "needs the argument 'if'"),
    ([op("conditional", **{"if": {"exists": "$.data"}})], "[0].conditional.then",
     "needs the argument 'then'"),
    ([op("conditional", **{"if": {"exists": "$.data"}, "then": [], "else": 1})],
     "[0].conditional.else", "must be an array"),
    ([T(inner=op("set", target="$.state.a", value="$.x"))],
     "[0].conditional.then[0].set.value", "$.x is not"),
    ([op("let", name="item", value=1, **{"in": []})], "[0].let.name", "identifier"),
    ([op("let", name="a-b", value=1, **{"in": []})], "[0].let.name", "identifier"),
    ([op("let", name="x", value="$.x", **{"in": []})], "[0].let.value", "$.x is not"),
    ([op("let", name="x", value=1, **{"in": [op("frob")]})], "[0].let.in[0].frob",
     "unknown operation"),
])
def test_validate_handler_catches(handler, path, fragment):
    problems = validate_handler(handler)
    assert any(p["path"] == path and fragment in p["message"] for p in problems), problems


@pytest.mark.parametrize("handler", [
    [],
    [op("set", target="$.state", value={"literal": {}})],
    [op("set", target="$.state.a", value="$5.00")],            # a literal, not a path
    [op("set", target="$.state['odd key'].x[0]", value="$.data['odd key']")],
    [op("let", name="x", value=1, **{"in": [
        op("let", name="y", value="$.x", **{"in": [op("set", target="$.state.a",
                                                       value=["$.x", "$.y"])]})]})],
    [op("remove", target="$.state.l", where={"exists": "$.item.x"})],
    [op("update_where", target="$.state.l", where={"exists": "$.item"},
        set={"a.b[0]": "$.item.c"})],
    [op("map", target="$.state.l", apply=[op("remove", target="$.item",
                                             where={"equals": ["$.item", 1]})])],
    [op("set_at", target="$.state.m", key={"literal": "$.k"}, value=1)],
    [op("increment_at", target="$.state.l", index="$.data.i", by={"literal": 2})],
])
def test_validate_handler_accepts(handler):
    assert validate_handler(handler) == []


def test_validate_handler_reports_every_problem_with_its_path():
    h = [op("set", target="$.data.x", value="$.nope"), {"frob": {}},
         op("increment", target="$.state.n", by="many")]
    assert [p["path"] for p in validate_handler(h)] == ["[0].set.target", "[0].set.value",
                                                        "[1].frob", "[2].increment.by"]


def test_validate_predicate_and_value():
    assert ticks.validate_predicate({"equals": ["$.item.a", 1]}) != []
    assert ticks.validate_predicate({"equals": ["$.item.a", 1]}, item=True) == []
    assert ticks.validate_value({"id": "$.x.y"}, names=["x"]) == []
    assert ticks.validate_value({"id": "$.x.y"})[0]["path"] == ".id"


# --- properties --------------------------------------------------------------------------------
# A fixed "orders" aggregate whose handlers exercise most operations; the data of each event
# is well typed, so no event fails and every operation really runs.

HANDLERS = {
    "created": [op("set", target="$.state.name", value="$.data.name"),
                op("set", target="$.state.status", value="open"),
                op("merge", target="$.state.meta", value={"by": "$.metadata.actor.id",
                                                          "n": "$.data.n"})],
    "item_added": [op("upsert", target="$.state.items", match="sku",
                      value={"sku": "$.data.sku", "qty": "$.data.qty"}),
                   op("increment", target="$.state.count", by="$.data.qty"),
                   op("increment_at", target="$.state.totals", key="$.data.sku",
                      by="$.data.qty"),
                   op("append_unique", target="$.state.tags", value="$.data.tag")],
    "item_removed": [op("remove", target="$.state.items",
                        where={"equals": ["$.item.sku", "$.data.sku"]}),
                     op("decrement", target="$.state.count"),
                     op("remove_at", target="$.state.totals", key="$.data.sku")],
    "status_changed": [op("conditional", **{
        "if": {"in": ["$.data.status", ["open", "closed"]]},
        "then": [op("set", target="$.state.status", value="$.data.status")],
        "else": [op("append", target="$.state.errors", value="$.data.status")]}),
        op("update_where", target="$.state.items", where={"gt": ["$.item.qty", 5]},
           set={"flagged": True, "by": "$.metadata.actor.id"})],
    "bulk": [op("map", target="$.state.items", apply=[
        op("increment", target="$.item.qty", by="$.data.delta"),
        op("set", target="$.item.touched", value="$.data.n")]),
        op("filter", target="$.state.items", where={"gt": ["$.item.qty", 0]})],
    "noted": [op("let", name="note", value="$.data.name", **{"in": [
        op("append", target="$.state.notes", value="$.note"),
        op("set_at", target="$.state.notes_by", key="$.metadata.actor.id", value="$.note"),
        op("merge_at", target="$.state.profiles", key="$.metadata.actor.id",
           value={"last": "$.note", "n": "$.data.n"})]})],
    "scored": [op("append", target="$.state.scores", value="$.data.n"),
               op("conditional", **{"if": {"exists": "$.state.scores[1]"},
                                    "then": [op("increment_at", target="$.state.scores",
                                                index=0, by="$.data.delta"),
                                             op("set_at", target="$.state.scores", index=1,
                                                value="$.data.qty")]}),
               op("remove_at", target="$.state.scores", index=4),
               op("conditional", **{"if": {"and": [{"gte": ["$.data.n", 0]},
                                                   {"not": {"exists": "$.state.closed"}}]},
                                    "then": [op("remove", target="$.state.errors")],
                                    "else": [op("set", target="$.state.closed", value=True)]})],
}

_data = st.fixed_dictionaries({
    "name": st.text(max_size=5), "n": st.integers(-5, 5), "sku": st.sampled_from("abc"),
    "qty": st.integers(-3, 9), "delta": st.integers(-4, 4),
    "status": st.sampled_from(["open", "closed", "weird"]), "tag": st.sampled_from("xyz")})
_meta = st.builds(lambda uid: {"actor": {"type": "user", "id": uid}}, st.sampled_from(["u1", "u2"]))
_events = st.lists(st.tuples(st.sampled_from(sorted(HANDLERS)), _data, _meta), max_size=25)


def _triples(events):
    return [(HANDLERS[kind], data, meta) for kind, data, meta in events]


def test_handlers_of_the_property_tests_are_valid():
    for handler in HANDLERS.values():
        assert validate_handler(handler) == []


@PROPS
@given(_events)
def test_fold_of_n_events_is_event_n_applied_to_the_fold_of_the_first_n_minus_1(events):
    triples = _triples(events)
    before = copy.deepcopy(triples)
    states = [fold(triples[:n]) for n in range(len(triples) + 1)]
    for n in range(1, len(triples) + 1):
        assert states[n] == apply_handler(states[n - 1], *triples[n - 1])
    # resuming from any snapshot gives the same state
    for k in range(len(triples) + 1):
        assert fold(triples[k:], initial=states[k]) == states[-1]
    assert triples == before


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4) | st.sampled_from(["a", "b", "open", "$.data", "x"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["sku", "qty", "n", "name", "delta", "status", "tag",
                                       "actor", "id", "items", "a"]), inner, max_size=5),
    max_leaves=20)


@PROPS
@given(st.sampled_from(sorted(HANDLERS)), _json, _json, _json)
def test_apply_handler_raises_only_tick_errors_on_random_data(kind, data, metadata, state):
    state = state if isinstance(state, dict) else {"items": state}
    before = copy.deepcopy((state, data, metadata))
    try:
        out = apply_handler(state, HANDLERS[kind], data, metadata)
    except TickError as exc:
        assert exc.message and isinstance(exc.path, str)
    else:
        assert isinstance(out, dict)
        assert out == apply_handler(state, HANDLERS[kind], data, metadata)  # deterministic
    assert (state, data, metadata) == before


# Random handlers from the grammar: the validator accepts them, and running them on random
# data raises nothing but TickError.

_READ = ["$.data", "$.data.a", "$.data.n", "$.data.items", "$.data.items[0]", "$.metadata.id",
         "$.state.a", "$.state.n", "$.state.items", "$.state.m.k",
         # the platform's forms: @ reads the state, ? marks an optional value
         "@", "@.a", "@.n", "@.items", "$.key", "$.type", "$.metadata.timestamp",
         "$.data.a?", "$.data.n?", "@.m.k?"]
_FIELDS = st.sampled_from(["a", "n", "id", "a.b", "items[0]"])


# a literal string that starts with "$" reads as a path; the grammar writes such a
# literal as {"literal": ...}, so plain random strings never start with one
_PLAIN = st.text(max_size=3).filter(lambda s: not s.startswith(("$", "@")))


def _values(item, names):
    paths = _READ + (["$.item", "$.item.a", "$.item.n"] if item else []) \
        + [f"$.{n}" for n in names] + [f"$.{n}.a" for n in names]
    scalar = (st.none() | st.booleans() | st.integers(-3, 3) | _PLAIN
              | st.sampled_from(paths) | st.builds(lambda v: {"literal": v}, _json)
              | st.builds(lambda p: {"$": p}, st.sampled_from(paths)))
    objects = st.dictionaries(st.sampled_from("abn"), st.integers(-3, 3) | _PLAIN, max_size=2)
    merged = st.builds(lambda xs: {"$merge": xs}, st.lists(
        objects | st.sampled_from(["$.data", "@.m", "$.metadata"]), max_size=3))
    return st.recursive(scalar | merged, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from("abn"), inner, max_size=3),
                        max_leaves=6)


def _preds(item, names, where=False):
    v = _values(item, names)
    ordered = st.integers(-3, 3) | _PLAIN | v.filter(jsonpath.is_path)
    leaf = st.one_of(
        st.builds(lambda n, a, b: {n: [a, b]}, st.sampled_from(["equals", "not_equals"]), v, v),
        st.builds(lambda n, a, b: {n: [a, b]}, st.sampled_from(["gt", "gte", "lt", "lte"]),
                  ordered, ordered),
        st.builds(lambda n, a, b: {n: [a, b]}, st.sampled_from(["in", "not_in"]), v,
                  st.lists(v, max_size=3)),
        st.builds(lambda p: {"exists": p}, _values(item, names).filter(jsonpath.is_path)))
    preds = st.recursive(leaf, lambda inner: st.builds(lambda n, ps: {n: ps},
                                                       st.sampled_from(["and", "or"]),
                                                       st.lists(inner, min_size=1, max_size=3))
                         | st.builds(lambda p: {"not": p}, inner), max_leaves=5)
    if not where:
        return preds
    # in `where`, the platform's form too: fields the element must equal
    return preds | st.dictionaries(_FIELDS, v, min_size=1, max_size=2)


def _ops(troot, item, names, depth):
    v, where, targets = _values(item, names), _preds(True, names, where=True), [
        f"$.{troot}.a", f"$.{troot}.n", f"$.{troot}.items", f"$.{troot}.m", f"$.{troot}.a.b",
        "a", "n", "items", "m", "a.b"]   # the platform's form, relative to the state
    if troot == "item":
        targets.append("$.item")
    t = st.sampled_from(targets)
    num = st.integers(-3, 3) | st.sampled_from(["$.data.n", "$.state.n"])
    sel = st.one_of(st.builds(lambda k: {"key": k}, st.sampled_from(["k", "$.data.a", 1])),
                    st.builds(lambda i: {"index": i}, st.sampled_from([0, 2, "$.data.n"])))
    obj = st.dictionaries(st.sampled_from("abn"), v, max_size=3) | st.sampled_from(
        ["$.data", "$.data.a"])
    leaves = [
        st.builds(lambda t, v: op("set", target=t, value=v), t, v),
        st.builds(lambda t, v: op("merge", target=t, value=v), t, obj),
        st.builds(lambda t, v: op("append", target=t, value=v), t, v),
        st.builds(lambda t: op("remove", target=t), st.sampled_from(targets[:-1] if troot == "item"
                                                                    else targets)),
        st.builds(lambda t, w: op("remove", target=t, where=w), t, where),
        st.builds(lambda t, b: op("increment", target=t, by=b), t, num),
        st.builds(lambda t: op("decrement", target=t), t),
        st.builds(lambda t, w: op("filter", target=t, where=w), t, where),
        st.builds(lambda t, w, f, x: op("update_where", target=t, where=w, set={f: x}),
                  t, where, _FIELDS, _values(True, names)),
        st.builds(lambda t, f, x, m: op("upsert", target=t, match=f, value=x, mode=m),
                  t, _FIELDS, obj, st.sampled_from(["merge", "replace"])),
        st.builds(lambda t, x: op("append_unique", target=t, value=x), t, v),
        st.builds(lambda t, s, x: op("set_at", target=t, value=x, **s), t, sel, v),
        st.builds(lambda t, s, x: op("merge_at", target=t, value=x, **s), t, sel, obj),
        st.builds(lambda t, s: op("remove_at", target=t, **s), t, sel),
        st.builds(lambda t, s, b: op("increment_at", target=t, by=b, **s), t, sel, num),
    ]
    if depth > 0:
        inner = _ops(troot, item, names, depth - 1)
        leaves += [
            st.builds(lambda t, a: op("map", target=t, apply=a), t,
                      _ops("item", True, names, depth - 1)),
            st.builds(lambda p, a, b: op("conditional", **{"if": p, "then": a, "else": b}),
                      _preds(item, names), inner, inner),
            st.sampled_from(["x", "y"]).flatmap(lambda n: st.builds(
                lambda x, body: op("let", name=n, value=x, **{"in": body}), v,
                _ops(troot, item, names + (n,), depth - 1))),
        ]
    return st.lists(st.one_of(leaves), max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_ops("state", False, (), 2), _json, _json, _json)
def test_random_valid_handlers_validate_and_raise_only_tick_errors(handler, data, meta, state):
    assert validate_handler(handler) == []
    state = state if isinstance(state, dict) else {"a": state}
    before = copy.deepcopy((handler, data, meta, state))
    try:
        out = apply_handler(state, handler, data, meta)
    except TickError as exc:
        assert exc.message
    else:
        assert isinstance(out, dict)
        assert fold([(handler, data, meta)], state) == out
    assert (handler, data, meta, state) == before


_junk = st.recursive(
    _json | st.sampled_from(list(ticks.OPERATIONS) + list(ticks.PREDICATES)
                            + ["target", "value", "$.state.a", "$.item", "$.state", "where",
                               "", "a", "@.a", "@", "$.data.a?", "$.key", "$.type"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(list(ticks.OPERATIONS) + list(ticks.PREDICATES)
                                      + ["target", "value", "by", "where", "apply", "match",
                                         "key", "index", "if", "then", "else", "name", "in",
                                         "set", "merge", "mode", "literal", "$", "$merge"]),
                      inner, max_size=3),
    max_leaves=25)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_junk, max_size=4), _json)
def test_junk_handlers_never_crash_the_validator_or_the_interpreter(handler, data):
    assert isinstance(validate_handler(handler), list)
    try:
        apply_handler({"a": [1, {"b": 2}]}, handler, data, META)
    except TickError:
        pass
