"""The CloudFormation side of the store declarations: generated, current, and deployable."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chalicelib.core import settings
from chalicelib.store.buckets import BUCKETS
from chalicelib.store.secrets import SECRETS
from chalicelib.store.tables import TABLES
from scripts import gen_infra

ROOT = gen_infra.ROOT
BIN = Path(sys.executable).parent  # the chalice and cfn-lint of this test's environment
STAGE_ENV = gen_infra.load_config()["stages"]["dev"]["environment_variables"]


@pytest.fixture(scope="module")
def template():
    return json.loads(gen_infra.TEMPLATE.read_text(encoding="utf-8"))


def _by_type(template, kind):
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def _keys(attributes):
    """Key schema as CloudFormation wants it (HASH first), read from PynamoDB attributes."""
    keys = [{"AttributeName": a.attr_name, "KeyType": "HASH" if a.is_hash_key else "RANGE"}
            for a in attributes.values() if a.is_hash_key or a.is_range_key]
    return sorted(keys, key=lambda k: k["KeyType"] != "HASH")


def test_committed_files_are_what_the_generator_writes():
    for path, text in gen_infra.render().items():
        assert path.exists(), f"{path} missing: run python -m scripts.gen_infra"
        assert path.read_text(encoding="utf-8") == text, \
            f"{path.relative_to(ROOT)} is stale: run python -m scripts.gen_infra"
    assert gen_infra.main(["--check"]) == 0


def test_names_use_the_deployed_stage_prefixes_not_the_test_environment():
    assert settings.get().table_prefix == "test-"  # tests/conftest.py
    names = gen_infra.names("dev")
    assert all(n.startswith(STAGE_ENV["TABLE_PREFIX"]) for _, n in names["tables"].values())
    assert all(n.startswith(STAGE_ENV["BUCKET_PREFIX"]) for n in names["buckets"].values())
    assert names["secrets"]["signing_key"] == STAGE_ENV["SIGNING_KEY_SECRET"]
    assert names["secrets"]["node_secret"] == STAGE_ENV["NODE_SECRET_NAME"]


def test_every_table_is_in_the_template_with_its_keys_and_indexes(template):
    tables = {t["TableName"]: t for t in _by_type(template, "AWS::DynamoDB::Table")}
    assert len(tables) == len(TABLES)
    for model in TABLES:
        logical = model.Meta.table_name[len(settings.get().table_prefix):]
        table = tables[STAGE_ENV["TABLE_PREFIX"] + logical]
        assert table["KeySchema"] == _keys(model.get_attributes()), model.__name__
        indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {i.Meta.index_name for i in model._indexes.values()}
        for index in model._indexes.values():
            assert indexes[index.Meta.index_name]["KeySchema"] == _keys(index.Meta.attributes)
        defined = {a["AttributeName"] for a in table["AttributeDefinitions"]}
        used = {k["AttributeName"] for k in table["KeySchema"]} | {
            k["AttributeName"] for i in indexes.values() for k in i["KeySchema"]}
        assert defined == used  # CloudFormation rejects unused attribute definitions
        assert ("TimeToLiveSpecification" in table) == ("ttl" in model.get_attributes())
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert table["SSESpecification"]["SSEEnabled"]


def test_every_bucket_is_private_and_encrypted(template):
    buckets = {b["BucketName"]: b for b in _by_type(template, "AWS::S3::Bucket")}
    assert set(buckets) == {STAGE_ENV["BUCKET_PREFIX"] + b for b in BUCKETS}
    for name, bucket in buckets.items():
        assert all(bucket["PublicAccessBlockConfiguration"].values()), name
        rule, = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert buckets[STAGE_ENV["BUCKET_PREFIX"] + "backups"]["VersioningConfiguration"] == {
        "Status": "Enabled"}


def test_every_secret_is_declared_and_the_policy_reaches_every_resource(template):
    assert len(_by_type(template, "AWS::SecretsManager::Secret")) == len(SECRETS)
    policy = gen_infra.policy_path("dev").read_text(encoding="utf-8")
    for props in _by_type(template, "AWS::DynamoDB::Table"):
        assert f"table/{props['TableName']}\"" in policy
    for props in _by_type(template, "AWS::S3::Bucket"):
        assert f":::{props['BucketName']}/*\"" in policy
    for props in _by_type(template, "AWS::SecretsManager::Secret"):
        assert f"secret:{props['Name']}-??????\"" in policy


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    """One `chalice package` per session: it builds (and caches in .chalice/deployments)
    the Lambda zip with wheels from PyPI, which is the slow part."""
    out = tmp_path_factory.mktemp("package")
    started = time.monotonic()
    run = subprocess.run(
        [str(BIN / "chalice"), "package", "--stage", "dev",
         "--merge-template", "infra/resources.json", str(out)],
        cwd=ROOT, env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True, text=True, timeout=900)
    print(f"chalice package took {time.monotonic() - started:.1f}s")
    assert run.returncode == 0, run.stdout + run.stderr
    return out / "sam.json"


def test_packaged_template_passes_cfn_lint(packaged):
    # No --ignore-checks: the merged template lints clean, warnings included.
    run = subprocess.run([str(BIN / "cfn-lint"), str(packaged)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_package_has_the_api_the_schedules_and_the_store(packaged):
    import app  # noqa: F401  (the module Lambda loads)
    from chalicelib import features
    resources = json.loads(packaged.read_text(encoding="utf-8"))["Resources"]
    assert resources["RestAPI"]["Type"] == "AWS::Serverless::Api"
    functions = {r["Properties"]["Handler"]: r["Properties"] for r in resources.values()
                 if r["Type"] == "AWS::Serverless::Function"}
    assert "app.app" in functions
    for name, minutes in ((j.name, j.minutes) for j in features.JOBS.values()):
        # Lambda resolves "app.job_<name>": app.py answers it from Chalice's handler map.
        assert callable(getattr(app, f"job_{name}", None)), name
        events = functions[f"app.job_{name}"]["Events"].values()
        assert [e["Properties"]["Schedule"] for e in events] == [
            f"rate({minutes} minute{'s' if minutes > 1 else ''})"]
    generated = json.loads(gen_infra.TEMPLATE.read_text(encoding="utf-8"))["Resources"]
    assert all(resources[k] == v for k, v in generated.items())
