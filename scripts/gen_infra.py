"""CloudFormation for the store's declarations, so no table, bucket or secret is named twice.

    python -m scripts.gen_infra            write infra/resources.json and .chalice/policy-<stage>.json
    python -m scripts.gen_infra --check    exit 1 if the committed files differ from what it would write

infra/resources.json is merged into the Chalice template by
`chalice package --merge-template infra/resources.json out/`; the policy file is the Lambda
role's whole policy (config.json has autogen_policy false).

Names come from the same code the Lambda runs (table_meta, bucket_name, secret_name), fed
with the settings the deployed stage will have: only config.json's environment variables,
never this process's environment (tests set TABLE_PREFIX=test-).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from chalicelib.core import settings
from chalicelib.store.base import table_meta
from chalicelib.store import queues
from chalicelib.store.buckets import BUCKETS, bucket_name
from chalicelib.store.secrets import SECRETS, secret_name
from chalicelib.store.tables import TABLES

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".chalice" / "config.json"
TEMPLATE = ROOT / "infra" / "resources.json"
DEFAULT_STAGE = "dev"

# Infra-only facts that the store declarations do not carry.
VERSIONED_BUCKETS = {"backups"}  # an overwritten or deleted backup stays recoverable
# bootstrap writes the signing key only when the secret does not exist (describe_secret),
# so an empty secret made here would be taken as present and logins would fail: the stack
# generates it, 64 lowercase hex characters = the 32-byte Ed25519 seed tokens.py expects.
# The node secret stays empty: bootstrap always writes it (the hash of NODE_SECRET).
GENERATED_SECRETS = {
    "signing_key": {"PasswordLength": 64, "ExcludeUppercase": True, "ExcludePunctuation": True,
                    "ExcludeCharacters": "ghijklmnopqrstuvwxyz", "IncludeSpace": False,
                    # no forced digit+letter: every one of the 16 symbols stays equally likely
                    "RequireEachIncludedType": False},
    # the AES-256 key sealing listeners' signing secrets: 64 hex = 32 bytes, made once
    "webhook_key": {"PasswordLength": 64, "ExcludeUppercase": True, "ExcludePunctuation": True,
                    "ExcludeCharacters": "ghijklmnopqrstuvwxyz", "IncludeSpace": False,
                    "RequireEachIncludedType": False},
}
# Data outlives the stack: deleting or replacing it must not drop the audit log or backups.
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}

# What the Lambda does with them. DynamoDB has no IAM action for TransactWriteItems or
# TransactGetItems: a transaction is authorized item by item with the actions below.
TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                 "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem", "dynamodb:BatchGetItem",
                 "dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:Scan",
                 "dynamodb:DescribeTable"]  # DescribeTable: storage used, for metrics
INDEX_ACTIONS = ["dynamodb:Query", "dynamodb:Scan"]  # the only actions an index accepts
# AbortMultipartUpload: boto3's managed transfer aborts a failed multipart upload.
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
QUEUE_ACTIONS = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                 "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
SECRET_ACTIONS = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
                  "secretsmanager:PutSecretValue"]


def load_config() -> dict:
    return json.loads(CONFIG.read_text(encoding="utf-8"))


@contextmanager
def deployed_settings(stage: str):
    """Make settings.get() answer as the stage's Lambda would: its environment is exactly
    config.json's global variables overlaid with the stage's."""
    config = load_config()
    env = {**config.get("environment_variables", {}),
           **config["stages"][stage].get("environment_variables", {})}
    with mock.patch.dict(os.environ, env, clear=True):
        deployed = settings.Settings()
    with mock.patch.object(settings, "get", lambda: deployed):
        yield deployed


def _logical_table(model) -> str:
    """The name a model gave table_meta(): its table name less the current prefix."""
    prefix = settings.get().table_prefix
    name = model.Meta.table_name
    assert name.startswith(prefix), f"{name} was not built with the prefix {prefix!r}"
    return name[len(prefix):]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("/", "_").split("_"))


def _key_schema(keys: list[dict]) -> list[dict]:
    # CloudFormation wants HASH before RANGE; PynamoDB lists index keys in any order.
    return [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]}
            for k in sorted(keys, key=lambda k: k["KeyType"] != "HASH")]


def _indexes(specs: list[dict]) -> list[dict]:
    return [{"IndexName": i["index_name"], "KeySchema": _key_schema(i["key_schema"]),
             "Projection": i["projection"]} for i in sorted(specs, key=lambda i: i["index_name"])]


def table_resource(model, name: str) -> dict:
    # _get_schema() is what create_table() (store/provision.py) sends, so the local stack
    # and AWS get the same keys, attribute definitions and indexes.
    schema = model._get_schema()
    props = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": sorted(schema["attribute_definitions"],
                                       key=lambda a: a["AttributeName"]),
        "KeySchema": _key_schema(schema["key_schema"]),
    }
    if schema["global_secondary_indexes"]:
        props["GlobalSecondaryIndexes"] = _indexes(schema["global_secondary_indexes"])
    if schema["local_secondary_indexes"]:
        props["LocalSecondaryIndexes"] = _indexes(schema["local_secondary_indexes"])
    if "ttl" in model.get_attributes():
        props["TimeToLiveSpecification"] = {"AttributeName": "ttl", "Enabled": True}
    props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    props["SSESpecification"] = {"SSEEnabled": True}
    return {"Type": "AWS::DynamoDB::Table", **RETAIN, "Properties": props}


def bucket_resource(logical: str, name: str) -> dict:
    props = {
        "BucketName": name,
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "BlockPublicPolicy": True,
            "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    }
    if logical in VERSIONED_BUCKETS:
        props["VersioningConfiguration"] = {"Status": "Enabled"}
    return {"Type": "AWS::S3::Bucket", **RETAIN, "Properties": props}


def secret_resource(logical: str, name: str) -> dict:
    props = {"Name": name, "Description": SECRETS[logical][1]}
    if logical in GENERATED_SECRETS:
        props["GenerateSecretString"] = GENERATED_SECRETS[logical]
    return {"Type": "AWS::SecretsManager::Secret", "Properties": props}


def names(stage: str) -> dict:
    """Every deployed name: {"tables": {logical: (model, name)}, "buckets": ..., "secrets": ...}."""
    logical_tables = [(_logical_table(m), m) for m in TABLES]  # before settings change
    assert not VERSIONED_BUCKETS - set(BUCKETS), "a versioned bucket is not declared"
    assert not set(GENERATED_SECRETS) - set(SECRETS), "a generated secret is not declared"
    with deployed_settings(stage):
        out = {"tables": {lg: (m, table_meta(lg).table_name) for lg, m in logical_tables},
               "buckets": {lg: bucket_name(lg) for lg in BUCKETS},
               "secrets": {lg: secret_name(lg) for lg in SECRETS},
               "queues": {lg: (queues.queue_name(lg), queues.dead_letter_name(lg))
                          for lg in queues.QUEUES}}
    assert len(out["tables"]) == len(TABLES), "two models declare the same table"
    return out


def template(stage: str) -> dict:
    n = names(stage)
    resources = {}
    for logical, (model, name) in n["tables"].items():
        resources["Table" + _camel(logical)] = table_resource(model, name)
    for logical, name in n["buckets"].items():
        resources["Bucket" + _camel(logical)] = bucket_resource(logical, name)
    for logical, name in n["secrets"].items():
        resources["Secret" + _camel(logical)] = secret_resource(logical, name)
    for logical, (name, dead) in n["queues"].items():
        resources.update(queue_resources(logical, name, dead))
    return {"Resources": resources}


def queue_resources(logical: str, name: str, dead: str) -> dict:
    """The queue and its dead-letter queue, with the redrive policy between them
    (store/queues.py declares the same for the local stack)."""
    main, dlq = "Queue" + _camel(logical), "Queue" + _camel(logical) + "Dead"
    return {
        dlq: {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": dead, "MessageRetentionPeriod": queues.DEAD_RETENTION_SECONDS,
            "SqsManagedSseEnabled": True}},
        main: {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": name, "VisibilityTimeout": queues.VISIBILITY_SECONDS[logical],
            "MessageRetentionPeriod": queues.RETENTION_SECONDS, "SqsManagedSseEnabled": True,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                              "maxReceiveCount": queues.MAX_RECEIVES}}},
    }


def policy(stage: str) -> dict:
    # A static file (Chalice copies it verbatim), so ARNs cannot use the stack's region or
    # account; the resource names themselves carry the stage.
    n = names(stage)
    tables = [f"arn:aws:dynamodb:*:*:table/{name}" for _, name in n["tables"].values()]
    indexes = [f"arn:aws:dynamodb:*:*:table/{name}/index/{index}"
               for model, name in n["tables"].values() for index in sorted(model._indexes)]
    buckets = [f"arn:aws:s3:::{name}" for name in n["buckets"].values()]
    # Secrets Manager appends "-" and 6 random characters to a secret's ARN.
    secret_arns = [f"arn:aws:secretsmanager:*:*:secret:{name}-??????"
                   for name in n["secrets"].values()]
    statements = [
        {"Sid": "Tables", "Action": TABLE_ACTIONS, "Resource": tables},
        {"Sid": "Indexes", "Action": INDEX_ACTIONS, "Resource": indexes},
        {"Sid": "BucketListing", "Action": ["s3:ListBucket"], "Resource": buckets},
        {"Sid": "Objects", "Action": OBJECT_ACTIONS, "Resource": [b + "/*" for b in buckets]},
        {"Sid": "Secrets", "Action": SECRET_ACTIONS, "Resource": secret_arns},
        {"Sid": "Queues", "Action": QUEUE_ACTIONS,
         "Resource": [f"arn:aws:sqs:*:*:{name}" for pair in n["queues"].values()
                      for name in pair]},
        # Function names are chosen by CloudFormation at deploy, so any Lambda log group.
        {"Sid": "Logs", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream",
                                   "logs:PutLogEvents"],
         "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*"},
        # X-Ray's write actions accept no resource but "*".
        {"Sid": "Tracing", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
         "Resource": "*"},
    ]
    return {"Version": "2012-10-17",
            "Statement": [{"Sid": s.pop("Sid"), "Effect": "Allow", **s} for s in statements
                          if s["Resource"]]}


def policy_path(stage: str) -> Path:
    return CONFIG.parent / load_config()["stages"][stage]["iam_policy_file"]


def render(stage: str = DEFAULT_STAGE) -> dict[Path, str]:
    """Each generated file and its exact text."""
    dump = lambda doc: json.dumps(doc, indent=2) + "\n"  # noqa: E731
    return {TEMPLATE: dump(template(stage)), policy_path(stage): dump(policy(stage))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default=DEFAULT_STAGE)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a committed file differs from the generated one")
    args = parser.parse_args(argv)
    stale = []
    for path, text in render(args.stage).items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {os.path.relpath(path, ROOT)}")
    for path in stale:
        print(f"{os.path.relpath(path, ROOT)} is out of date: run python -m scripts.gen_infra",
              file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
