"""JSON Schema checks (the schema's own draft, 2020-12 by default; formats checked),
every problem with its path."""
from __future__ import annotations

import functools
import json


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str):
    """The validator of the draft the schema names ($schema), 2020-12 by default."""
    from jsonschema import (
        Draft202012Validator,  # deferred: only requests with bodies pay
    )
    from jsonschema.validators import validator_for
    schema = json.loads(schema_json)
    cls = validator_for(schema, default=Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def problems(schema: dict, data) -> list[dict]:
    """[{path: "a.b.0", message}] sorted by path; empty when `data` is valid."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    out = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        out.append({"path": ".".join(str(p) for p in error.absolute_path),
                    "message": error.message})
    return out
