"""The handlers fingerprint a checkpoint is tied to, and the digest of a stored state."""
import copy
import hashlib

from chalicelib.domain.checkpoints import handlers_fingerprint, handlers_of, state_digest
from chalicelib.domain.events import canonical
from testing.specs import ORDER_SPEC


def test_the_fingerprint_is_the_sha256_of_the_types_handlers():
    handlers = handlers_of(ORDER_SPEC, "order")
    assert set(handlers) == {"created", "item_added", "closed"}
    assert handlers_fingerprint(ORDER_SPEC, "order") == hashlib.sha256(
        canonical(handlers)).hexdigest()


def test_only_the_types_handlers_count():
    other = copy.deepcopy(ORDER_SPEC)
    other["aggregate_types"]["order"]["events"]["created"]["schema"]["properties"]["x"] = {}
    other["aggregate_types"]["order"]["events"]["created"]["implications"] = []
    other["aggregate_types"]["customer"]["events"]["ordered"]["handler"] = []
    other["agent_types"] = ["user"]
    # schemas, implications, other types' handlers, agents: the same fold of order events
    assert handlers_fingerprint(other, "order") == handlers_fingerprint(ORDER_SPEC, "order")
    assert handlers_fingerprint(other, "customer") != handlers_fingerprint(ORDER_SPEC, "customer")


def test_any_change_of_the_types_handlers_changes_it():
    base = handlers_fingerprint(ORDER_SPEC, "order")
    changed = copy.deepcopy(ORDER_SPEC)
    changed["aggregate_types"]["order"]["events"]["closed"]["handler"][0]["set"]["value"] = "shut"
    assert handlers_fingerprint(changed, "order") != base
    added = copy.deepcopy(ORDER_SPEC)
    added["aggregate_types"]["order"]["events"]["noted"] = {"schema": {}}
    assert handlers_fingerprint(added, "order") != base       # an event type added counts
    reordered = copy.deepcopy(ORDER_SPEC)
    events = reordered["aggregate_types"]["order"]["events"]
    reordered["aggregate_types"]["order"]["events"] = dict(reversed(list(events.items())))
    assert handlers_fingerprint(reordered, "order") == base   # key order does not


def test_a_type_the_spec_lacks_has_the_empty_fingerprint():
    assert handlers_fingerprint(ORDER_SPEC, "invoice") == hashlib.sha256(b"{}").hexdigest()
    assert handlers_fingerprint({}, "order") == hashlib.sha256(b"{}").hexdigest()


def test_state_digest():
    state = {"b": [1, 2.5], "a": "é"}
    raw = '{"a":"é","b":[1,2.5]}'.encode()
    assert state_digest(state) == (len(raw), hashlib.sha256(raw).hexdigest())
