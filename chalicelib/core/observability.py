"""Powertools Logger (always) and Tracer (only when tracing is on), for every Lambda."""
from __future__ import annotations

import os

from aws_lambda_powertools import Logger

logger = Logger(service="adminplane")


def tracer_middleware():
    """The Tracer's handler decorator, or None when POWERTOOLS_TRACE_DISABLED is true.

    Creating a Tracer imports the X-Ray SDK even when tracing is disabled (~130 ms of
    cold start), so it is created only when its subsegments are wanted. Lambda's own
    active tracing (`"xray": true` in .chalice/config.json) needs no SDK."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true"):
        return None
    from aws_lambda_powertools import Tracer
    # Only botocore is patched: it carries every DynamoDB, S3 and Secrets Manager call.
    return Tracer(service="adminplane", patch_modules=["botocore"]).capture_lambda_handler
