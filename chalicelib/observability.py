"""Powertools Logger and Tracer, shared by every Lambda of the app."""
from __future__ import annotations

from aws_lambda_powertools import Logger, Tracer

logger = Logger(service="adminplane")
# Only botocore is patched: it carries every DynamoDB, S3 and Secrets Manager call.
tracer = Tracer(service="adminplane", patch_modules=["botocore"])
