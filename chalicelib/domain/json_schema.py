"""JSON Schema checks (the schema's own draft, 2020-12 by default; formats checked),
every problem with its path."""
from __future__ import annotations

import functools
import json
import re


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str):
    """The validator of the draft the schema names ($schema), 2020-12 by default."""
    from jsonschema import (
        Draft202012Validator,  # deferred: only requests with bodies pay
    )
    from jsonschema.validators import validator_for
    from jsonschema.validators import extend
    schema = json.loads(schema_json)
    cls = extend(validator_for(schema, default=Draft202012Validator), {"pattern": _pattern})
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _pattern(validator, pattern, instance, schema):
    """`pattern` as ECMA 262 reads it: Python's `$` also matches before a final newline,
    which would let "name\n" through a rule that refuses it everywhere else."""
    from jsonschema.exceptions import ValidationError
    if not validator.is_type(instance, "string"):
        return
    if re.search(_ecma(pattern), instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.lru_cache(maxsize=512)
def _ecma(pattern: str) -> re.Pattern:
    """`pattern` with each `$` outside a class and not escaped read as \\Z."""
    out, in_class, escaped = [], False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "$" and not in_class:
            ch = r"\Z"
        out.append(ch)
    return re.compile("".join(out))


def problems(schema: dict, data) -> list[dict]:
    """[{path: "a.b.0", message}] sorted by path; empty when `data` is valid."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    out = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        out.append({"path": ".".join(str(p) for p in error.absolute_path),
                    "message": error.message})
    return out
