"""One successful example call per audited route, gathered from every module here.

Each module defines EXAMPLES = {(METHOD, PATH): (setup, body)}: `setup(stack, token)`
returns the path parameters (or None for none; "device_login" is special-cased), and
`body` is the JSON body. test_route_table fails for an audited route without a row."""
import importlib
import pkgutil

EXAMPLES: dict = {}
for _info in pkgutil.iter_modules(__path__):
    EXAMPLES.update(importlib.import_module(f"{__name__}.{_info.name}").EXAMPLES)
