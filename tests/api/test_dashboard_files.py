"""The dashboard's files (chalicelib/http/dashboard.py): from the "dashboard" bucket in a
deployed stage, from DASHBOARD_DIR under make run; strict headers on every answer."""
import pytest

from chalicelib.core import settings
from chalicelib.store import aws
from chalicelib.store.buckets import bucket_name

INDEX = '<!doctype html><div id="root"></div><script type="module" src="/dashboard/assets/app-1a2b.js"></script>'


def _strict(answer):
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def _check_served(stack):
    index = stack.call("GET", "/dashboard")
    assert index.status == 200 and index.text == INDEX, index
    assert index.headers["Cache-Control"] == "no-store"
    assert index.headers["Content-Type"].startswith("text/html")
    _strict(index)
    asset = stack.call("GET", "/dashboard/assets/app-1a2b.js")
    assert asset.status == 200 and asset.text == "console.log(1)"
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert asset.headers["Content-Type"].startswith("text/javascript")
    _strict(asset)
    assert stack.call("GET", "/dashboard/instances/abc").text == INDEX  # client-side route
    for missing in ("/dashboard/assets/nope.js", "/dashboard/.env", "/dashboard/%2e%2e/app.py"):
        answer = stack.call("GET", missing)
        assert answer.status == 404, missing
        _strict(answer)


def test_a_deployed_stage_serves_the_bucket(stack, monkeypatch):
    monkeypatch.setattr(settings.get(), "dashboard_dir", None)
    assert stack.call("GET", "/dashboard").status == 503  # not uploaded yet: says so
    s3 = aws.client("s3")
    s3.put_object(Bucket=bucket_name("dashboard"), Key="index.html", Body=INDEX.encode())
    s3.put_object(Bucket=bucket_name("dashboard"), Key="assets/app-1a2b.js", Body=b"console.log(1)")
    _check_served(stack)


def test_make_run_serves_the_build_folder(stack, monkeypatch, tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "app-1a2b.js").write_text("console.log(1)")
    (tmp_path / ".env").write_text("secret")
    monkeypatch.setattr(settings.get(), "dashboard_dir", str(tmp_path))
    _check_served(stack)


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/{proxy+}"])
def test_the_dashboard_is_not_part_of_the_api_document(stack, path):
    assert path not in stack.call("GET", "/openapi.json").json["paths"]
