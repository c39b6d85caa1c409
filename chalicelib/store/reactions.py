"""What an append sets in motion beyond its own events: scheduled events and their
cancellations, saga instances and their steps, listener deliveries.

The data plane's append (chalicelib/platform/events/service.py) asks every registered
*reactor* what the events it is about to write set in motion. A reactor answers with
`Effects`: items written in the append's own DynamoDB transaction (so a delivery, a
schedule or a saga exists exactly when its event does), and work to start once the
transaction has committed (an SQS message; a sweeper finds what a lost message left).
A reactor may read (one Query for the schedules an event cancels), but only when the
spec in force gives it something to do for that event.

Features register their reactor here (chalicelib/features.py wires them), and the events
feature registers the one function that appends as the system (`emit`): scheduled
events and saga steps go through the normal append path (validated, chained, counted)
without importing the events feature. Imports stay one way: features -> store."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from chalicelib.core.errors import AppError


@dataclass(frozen=True)
class Written:
    """One event an append is writing, as reactors see it."""
    agg_type: str
    agg_id: str
    event_type: str
    position: int
    data: object
    metadata: dict
    created_at: float          # unix seconds (ms precision), the event's timestamp
    content_hash: str

    @property
    def stream_id(self) -> str:
        return f"{self.agg_type}/{self.agg_id}@{self.position}"


@dataclass
class Effects:
    """Writes for the append's transaction and work for after it commits."""
    puts: list = field(default_factory=list)      # new items (ids nobody else writes)
    updates: list = field(default_factory=list)   # (item, [actions]): unconditional
    after: list = field(default_factory=list)     # callables, run once committed

    def extend(self, other: "Effects") -> None:
        self.puts += other.puts
        self.updates += other.updates
        self.after += other.after

    @property
    def count(self) -> int:
        return len(self.puts) + len(self.updates)

    def write(self, tx) -> None:
        for item in self.puts:
            tx.save(item)
        for item, actions in self.updates:
            tx.update(item, actions=actions)


@dataclass
class Guard:
    """Writes that must hold for a system append to happen at all (a scheduled event
    claimed from pending, a saga step marked emitted, with their audit entry): updates
    whose condition failing refuses the append with `refusal` (nothing written)."""
    write: Callable            # write(tx): adds exactly `count` updates
    count: int
    refusal: AppError
    # the append's answer ({"stream_id", "length"}), set before `write` is called, so
    # the claim can record where the event went
    planned: dict | None = None


Reactor = Callable[[dict, str, str, list], Effects]
_reactors: list[Reactor] = []
_emitter: Callable | None = None


def register(reactor: Reactor) -> None:
    if reactor not in _reactors:
        _reactors.append(reactor)


def effects(spec: dict, instance_id: str, env: str, written: list[Written]) -> Effects:
    """Everything the registered reactors answer for these events."""
    out = Effects()
    for reactor in _reactors:
        out.extend(reactor(spec, instance_id, env, written))
    return out


def run_after(effects_: Effects) -> None:
    """The post-commit work: each step on its own, a failure logged (what it started is
    recorded in the committed items, and a sweeper finishes it)."""
    for step in effects_.after:
        try:
            step()
        except Exception:  # noqa: BLE001 - the records are committed; sweepers finish
            from chalicelib.core.observability import logger
            logger.exception("post-commit work failed; its sweeper will retry it")


def set_emitter(fn: Callable) -> None:
    global _emitter
    _emitter = fn


def emit(instance_id: str, env: str, agg_type: str, agg_id: str, event_type: str, data,
         metadata: dict, guard: Guard | None = None) -> dict:
    """Append one event as the system through the data plane's own path (validated
    against the spec in force, chained, counted, its own reactions included), with
    `guard` in the same transaction. Raises AppError as an append would."""
    if _emitter is None:
        raise RuntimeError("no emitter registered (chalicelib.features wires it)")
    return _emitter(instance_id, env, agg_type, agg_id, event_type, data, metadata, guard)
