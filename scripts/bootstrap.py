"""Bootstrap a deployed control plane (idempotent): `python -m scripts.bootstrap`.

Reads ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_DEVICE_PUBLIC_KEY, NODE_SECRET, plus the
deployment's TABLE_PREFIX, BUCKET_PREFIX, SERVER_NAME and secret names."""
from __future__ import annotations

import os
import sys


def main() -> int:
    missing = [v for v in ("ADMIN_EMAIL", "ADMIN_PASSWORD", "ADMIN_DEVICE_PUBLIC_KEY", "NODE_SECRET")
               if not os.environ.get(v)]
    if missing:
        print(f"missing environment variables: {', '.join(missing)}", file=sys.stderr)
        return 2
    from chalicelib import bootstrap
    result = bootstrap.run(os.environ["ADMIN_EMAIL"], os.environ["ADMIN_PASSWORD"],
                           os.environ["ADMIN_DEVICE_PUBLIC_KEY"], os.environ["NODE_SECRET"])
    print(f"operator created: {result.operator_created}; admin device: {result.device_address}; "
          f"signing key created: {result.signing_key_created}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
