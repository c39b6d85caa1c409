"""A spec exercising schemas, handlers and emit implications, for the event-store tests."""
import copy

ORDER_SPEC = {
    "aggregate_types": {
        "order": {"events": {
            "created": {
                "schema": {"type": "object", "required": ["customer"], "additionalProperties": False,
                           "properties": {"customer": {"type": "string", "minLength": 1},
                                          "total": {"type": "number", "minimum": 0},
                                          "email": {"type": "string", "format": "email"}}},
                "handler": [{"set": {"target": "customer", "value": "$.data.customer"}},
                            {"set": {"target": "status", "value": "open"}},
                            {"set": {"target": "total", "value": "$.data.total"}}],
                "implications": [{"emit": {"aggregate_type": "customer", "id": "$.data.customer",
                                           "event_type": "ordered",
                                           "data": {"total": "$.data.total"}}}]},
            "item_added": {
                "schema": {"type": "object", "required": ["sku", "qty"],
                           "properties": {"sku": {"type": "string"},
                                          "qty": {"type": "integer", "minimum": 1}}},
                "handler": [{"append": {"target": "items", "value": "$.data"}},
                            {"increment": {"target": "count", "by": "$.data.qty"}}]},
            "closed": {"schema": {"type": "object"},
                       "handler": [{"set": {"target": "status", "value": "closed"}}]},
        }},
        "customer": {"events": {
            "ordered": {"schema": {"type": "object"},
                        "handler": [{"increment": {"target": "orders"}}]},
        }},
    },
    "agent_types": ["user", "system"],
    "target_types": ["order"],
}


def spec(**changes):
    out = copy.deepcopy(ORDER_SPEC)
    out.update(changes)
    return out
