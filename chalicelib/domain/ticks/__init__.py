"""Tick handlers: the pure interpreter of an event type's ``handler``, and its validator.

This package re-exports the names callers use; the code lives in ``values`` (reading
values and paths, templates, let bindings, predicates, ``TickError``), ``targets``
(writing into the state and reading operation arguments), ``operations`` (the 17
operations, ``apply_handler`` and ``fold``) and ``validate`` (the static checks).

A handler is a list of operations applied in order to the aggregate's state (a JSON
object, ``{}`` before the first event) when an event is appended. Pure and standard
library only: no I/O, no clock, no randomness, so folding the same events always gives
the same state. Paths use the dialect of ``jsonpath`` (``.name``, ``[0]``, ``['any']``).

Values
------
Wherever an argument below says *value*:

- a string starting with ``$.`` (or ``$[``) is a path, read from ``$.data`` (the event's
  data), ``$.metadata``, ``$.state`` (the state as the earlier operations left it),
  ``$.item`` (the array element, only inside ``where`` and ``map.apply``) or ``$.<name>``
  (a ``let`` binding). Reading a path that does not exist gives ``null``;
- ``{"literal": X}`` is X verbatim, never looked into: the way to write a string that
  starts with ``$.`` (``{"literal": "$.5"}``) or an object that would otherwise be
  read as a template;
- any other object or array is a template: each member is itself a value, so
  ``{"id": "$.data.id", "tags": []}`` builds an object. A member whose path does not
  exist is left out of a template object (so ``merge`` with a template only touches
  the fields the event carries); in a template array it becomes ``null``;
- anything else (string, number, boolean, null) is itself.

Targets
-------
``target`` is a path under ``$.state`` (under ``$.item`` inside ``map.apply``). Writing
creates missing (or null) objects on the way: ``$.state.a.b`` makes ``a`` when absent.
It never creates arrays at an index: ``[n]`` must address an existing element. The
state itself (a bare ``$.state``) may be the target of set, merge, set_at, merge_at,
remove_at and increment_at only, and must stay an object; ``$.item`` itself (in
``map.apply``) may be the target of any operation but ``remove`` without ``where``.

Operations (one key per operation object; ``?`` marks optional arguments)
-------------------------------------------------------------------------
======================  ===============================================================
operation               arguments
======================  ===============================================================
set                     target, value                  target = value
merge                   target, value (object)         shallow merge into the target
                                                       object (created if missing)
append                  target, value                  push onto the array (created)
remove                  target, where?                 without where: delete the key or
                                                       the element ``[n]`` (absent: no-op);
                                                       with where: drop matching elements
increment / decrement   target, by? (number, 1)        target +/- by; missing counts as 0
filter                  target, where                  keep the matching elements
map                     target, apply ([ops])          run ``apply`` on every element; in
                                                       there targets are under ``$.item``
                                                       (the element, replaceable whole);
                                                       ``$.state`` reads the state before
                                                       the map
update_where            target, where, set?, merge?    in every matching element (must be
                                                       objects): shallow-merge ``merge``
                                                       (object value), then write each
                                                       ``set`` entry: {field path: value};
                                                       values see the element as $.item
upsert                  target, match (field path),    the first element whose ``match``
                        value (object), mode?          field equals value's is merged
                        ("merge" | "replace")          (or replaced); none: append
append_unique           target, value, match?          append unless an equal element (or,
                        (field path)                   with match, one with an equal match
                                                       field) is already there
set_at                  target, key | index, value     entry ``key`` of the object (created)
                                                       or element ``index`` of the array
merge_at                target, key | index,           shallow merge into that entry
                        value (object)                 (created as {} when missing)
remove_at               target, key | index            delete the entry/element (absent: no-op)
increment_at            target, key | index, by?       add ``by`` (default 1) to the entry
                                                       (missing counts as 0)
conditional             if (predicate), then ([ops]),  run then or else
                        else? ([ops])
let                     name, value, in ([ops])        bind ``$.<name>`` to value (a copy
                                                       taken once) while running ``in``
======================  ===============================================================

``where`` and ``if`` are predicates; in ``where`` the element is ``$.item``, always the
innermost element when array operations nest. ``match`` and the keys of
``update_where.set`` are *field paths* relative to an element: ``id``, ``owner.id``,
``lines[0]``. ``key`` is a value that must be a string (an integer is turned into its
decimal string); ``index`` a value that must be a non-negative integer, within range
for set_at, merge_at and increment_at. ``by`` is a value that must be a number. ``name``
of ``let`` is an identifier (``[A-Za-z_][A-Za-z0-9_]*``), not data, metadata, state or
item; an inner let may shadow an outer one.

Predicates (one key per predicate object)
-----------------------------------------
``{"equals": [a, b]}``, ``not_equals``, ``gt``, ``gte``, ``lt``, ``lte`` take two values;
``{"in": [v, array]}`` and ``not_in`` a value and an array value; ``{"exists": path}``
(true when the path is present and not null); ``{"and": [p, ...]}`` and ``{"or": [...]}``
at least one predicate; ``{"not": p}``. Equality is JSON equality (``1 == 1.0``, but
``true != 1``; objects and arrays compared deeply; a missing path equals null). The
order comparisons hold only between two numbers or two strings (code point order) and
are false otherwise (a literal of another type there is a validation error); ``in`` is false (``not_in`` true) when the second value is not an
array.

Errors
------
``validate_handler`` lists every static problem as ``{"path", "message"}``, the path
relative to the handler (``[2].set.target``, ``[0].conditional.if.and[1].equals[0]``).
At apply time, problems only the data can show (incrementing a string, appending to an
object, an index out of range, a key that is not a string) raise ``TickError`` with the
operation's path (``[1].increment``); the event is then not applied at all.

API
---
``apply_handler(state, handler, data, metadata) -> dict`` (a new state; inputs are never
changed or shared with the result), ``fold(events, initial=None)`` over (handler, data,
metadata) triples (a TickError carries ``event_index``), ``resolve(value, scope)`` and
``evaluate_predicate(pred, scope)`` with ``scope = {"data", "metadata", "state", ...}``
(absent roots read as missing), ``validate_handler(handler)``, ``validate_predicate`` and
``validate_value``. State and event data are decoded JSON (dict, list, str, int, float,
bool, None): a number of another type (say ``Decimal``) is not a number here.
"""

from chalicelib.domain.ticks.operations import OPERATIONS, apply_handler, fold
from chalicelib.domain.ticks.validate import (
           validate_handler,
           validate_predicate,
           validate_value,
)
from chalicelib.domain.ticks.values import (
           PREDICATES,
           TickError,
           evaluate_predicate,
           resolve,
)

__all__ = ["OPERATIONS", "PREDICATES", "TickError", "apply_handler", "evaluate_predicate",
           "fold", "resolve", "validate_handler", "validate_predicate", "validate_value"]
