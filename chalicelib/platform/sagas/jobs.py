"""Scheduled and queued work of sagas.

REACTOR: the append of a saga's trigger event writes the saga's instance in its own
transaction; the append of an event some saga step awaits records its arrival on the
step's waiter (one Query of the aggregate's waiters, made only when the spec has an
await on that aggregate type and event type). Both send a "timers" message once
committed. Nothing is read or written for events no saga names.
TASKS: "saga" advances one saga (service.advance).
JOBS: "saga_sweep" every minute sends what a lost message or a passed deadline left."""
from __future__ import annotations

import threading
from collections import OrderedDict

from chalicelib.core.schedules import Job
from chalicelib.platform.sagas import service
from chalicelib.store import keys
from chalicelib.store.reactions import Effects
from chalicelib.store.tables import SagaWaiter


class _Index:
    """What a spec's sagas react to: trigger (type, event) -> [(name, definition)], and
    the (type, event) pairs some step awaits."""

    def __init__(self, spec: dict):
        self.triggers: dict[tuple[str, str], list] = {}
        self.awaits: set[tuple[str, str]] = set()
        sagas = ((spec.get("modules") or {}).get("sagas") or {}) if isinstance(spec, dict) else {}
        for name, saga in sagas.items():
            trigger = saga.get("trigger") or {}
            pair = (trigger.get("aggregate_type"), trigger.get("event_type"))
            self.triggers.setdefault(pair, []).append((name, saga))
            for step in saga.get("steps") or ():
                awaited = step.get("await")
                if awaited:
                    for event_type in awaited.get("event_types") or ():
                        self.awaits.add((awaited.get("aggregate_type"), event_type))

    def __bool__(self) -> bool:
        return bool(self.triggers or self.awaits)


_indexes: "OrderedDict[int, tuple[dict, _Index]]" = OrderedDict()
_lock = threading.Lock()


def index_of(spec: dict) -> _Index:
    """The spec's index, computed once per spec object (specs are cached and never
    changed in place; the cache holds the spec so its id is not reused)."""
    with _lock:
        hit = _indexes.get(id(spec))
        if hit is not None and hit[0] is spec:
            return hit[1]
    built = _Index(spec)
    with _lock:
        _indexes[id(spec)] = (spec, built)
        while len(_indexes) > 64:
            _indexes.popitem(last=False)
    return built


def react(spec: dict, instance_id: str, env: str, written: list) -> Effects:
    index = index_of(spec)
    out = Effects()
    if not index:
        return out
    scope = keys.scope_key(instance_id, env)
    watch = service.watching()
    if watch is not None:
        watch.arrival = None      # the reactor may plan one append more than once
    waiters: dict[str, list] = {}
    matched: set[tuple[str, str]] = set()
    for n, w in enumerate(written):
        for name, saga in index.triggers.get((w.agg_type, w.event_type), ()):
            item = service.new_instance(scope, name, saga, w.agg_type, w.agg_id,
                                        w.event_type, w.position, w.created_at)
            out.puts.append(item)
            out.after.append(_sender(scope, item.id, "start"))
        if (w.agg_type, w.event_type) not in index.awaits:
            continue
        stream = keys.stream_key(instance_id, env, w.agg_type, w.agg_id)
        if (watch is not None and n > 0 and watch.arrival is None and stream == watch.key
                and w.event_type in watch.event_types):
            watch.arrival = (w.event_type, w.position, w.created_at)
        if stream not in waiters:
            waiters[stream] = list(SagaWaiter.query(stream, consistent_read=True))
        for waiter in waiters[stream]:
            ref = (waiter.key, waiter.waiter)
            if (ref in matched or waiter.arrival or not waiter.saga_id
                    or w.event_type not in (waiter.event_types or ())):
                continue
            matched.add(ref)
            out.updates.append((SagaWaiter(waiter.key, waiter.waiter), [
                SagaWaiter.arrival.set("arrived"),
                SagaWaiter.arrived_at.set(SagaWaiter.arrived_at | w.created_at),
                SagaWaiter.arrived_type.set(SagaWaiter.arrived_type | w.event_type),
                SagaWaiter.arrived_position.set(SagaWaiter.arrived_position | w.position)]))
            out.after.append(_sender(waiter.scope or scope, waiter.saga_id, "arrival",
                                     [waiter.key, waiter.waiter]))
    return out


def _sender(scope: str, saga_id: str, why: str, waiter=None):
    return lambda: service.send(scope, saga_id, why, waiter=waiter)


def run_task(message: dict) -> str:
    return service.advance(message["scope"], message["id"], message.get("why", "step"),
                           message.get("waiter"))


JOBS = [Job("saga_sweep", 1, service.sweep)]
TASKS = {service.TASK: run_task}
REACTOR = react
