"""The test environment: fake AWS credentials, a fast password hash and quiet logs, set
before any project import reads them (tests, the benchmarks and the local tools)."""
import os
import tempfile

_tmp = tempfile.mkdtemp(prefix="adminplane-tests-")
os.environ.update({
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "TABLE_PREFIX": "test-",
    "BUCKET_PREFIX": "test-",
    "QUEUE_PREFIX": "test-",
    "SERVER_NAME": "chat.example.com",
    "SERVER_CONFIG_FILE": os.path.join(_tmp, "server.toml"),
    "PASSWORD_HASH_PROFILE": "fast",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    "POWERTOOLS_SERVICE_NAME": "adminplane-tests",
})
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)
