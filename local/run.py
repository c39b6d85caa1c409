"""`make run`: the whole control plane on this machine.

moto's server (`python -m local.moto_server`, a child process, so it can be paused or
stopped apart from the rest: its pid is printed) stands in for DynamoDB, S3 and Secrets
Manager; every table, bucket and secret is created and the deployment bootstrapped;
`chalice local` serves the routes in a child process; the scheduled functions run here
at their rates, and the work queue is consumed here (local/consumer.py) as Lambda would.
Ctrl-C stops it all.

Environment (defaults are printed at start):
  PORT (8000)              HTTP port of `chalice local` on 127.0.0.1
  MOTO_PORT (5050)         port of the embedded AWS on 127.0.0.1
  ADMIN_EMAIL, ADMIN_PASSWORD, SERVER_NAME, ADMIN_DEVICE_PUBLIC_KEY, NODE_SECRET
                           bootstrap values
  LOCAL_DIR (.local)       where server.toml and the generated device key live
  SERVER_CONFIG_FILE       the admin list (default $LOCAL_DIR/server.toml); yours is kept,
                           the bootstrap device added to it when it holds only admins
  TABLE_PREFIX, BUCKET_PREFIX, QUEUE_PREFIX (local-)
                           names of the embedded tables, buckets and queues
  READY_TIMEOUT (60)       seconds to wait for `chalice local` to answer
  DASHBOARD_DIR            the operator dashboard's built files (default: dashboard/dist,
                           built first when its sources changed; see local/dashboard.py)
  WEBHOOK_ALLOW_LOOPBACK (true)
                           listener deliveries may go to 127.0.0.1 / localhost (a local
                           run's receivers live there); a deployed stage never sets it
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CHALICE_STAGE = "local"  # no environment_variables of its own: this process's env rules
DEFAULT_PORT = 8000
DEFAULT_MOTO_PORT = 5050
DEFAULTS = {
    "ADMIN_EMAIL": "admin@example.com",
    "SERVER_NAME": "chat.example.com",
    # listener deliveries may reach receivers on this machine (never on a deployed stage)
    "WEBHOOK_ALLOW_LOOPBACK": "true",
}


class Stop(Exception):
    """Raised by the signal handler while starting up, to unwind to the cleanup."""


def say(message: str) -> None:
    print(f"[local] {message}", flush=True)


def fail(message: str, code: int = 2):
    print(f"[local] error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


# --- ports -----------------------------------------------------------------------------

def _port(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        fail(f"{name}={raw!r} is not a port number; try {name}={default} make run")
    if not 1 <= value <= 65535:
        fail(f"{name}={value} is out of range; try {name}={default} make run")
    return value


def port_free(port: int) -> bool:
    """True when a server can listen on 127.0.0.1:port (binding as the servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
        except OSError:
            return False
    return True


def check_ports(port: int, moto_port: int) -> None:
    if port == moto_port:
        fail(f"PORT and MOTO_PORT are both {port}; pick another, e.g. MOTO_PORT={port + 1} make run")
    if not port_free(port):
        fail(f"port {port} on 127.0.0.1 is already in use (HTTP API); "
             f"pick another, e.g. PORT={port + 1} make run")
    if not port_free(moto_port):
        fail(f"port {moto_port} on 127.0.0.1 is already in use (embedded AWS, moto); "
             f"pick another, e.g. MOTO_PORT={moto_port + 1} make run")


# --- environment -----------------------------------------------------------------------

def _device_key(local_dir: Path) -> tuple[str, Path | None]:
    """(public key hex, path of the seed file or None when the key came from the env)."""
    given = os.environ.get("ADMIN_DEVICE_PUBLIC_KEY", "").strip().lower()
    if given:
        try:
            if len(bytes.fromhex(given)) != 32:
                raise ValueError
        except ValueError:
            fail("ADMIN_DEVICE_PUBLIC_KEY must be 64 hex characters (a raw Ed25519 public key)")
        return given, None
    from nacl.signing import SigningKey
    path = local_dir / "admin_device.key"
    if path.exists():
        try:
            seed = bytes.fromhex(path.read_text().strip())
            if len(seed) != 32:
                raise ValueError
        except ValueError:
            fail(f"{path} does not hold a 64-hex Ed25519 seed; delete it to get a new key")
    else:
        seed = SigningKey.generate().encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(seed.hex() + "\n")
    os.chmod(path, 0o600)
    return SigningKey(seed).verify_key.encode().hex(), path


def prepare_env(port: int, moto_port: int) -> dict:
    """Set this process's environment (inherited by `chalice local`); return what to print."""
    env = os.environ
    local_dir = Path(env.get("LOCAL_DIR") or PROJECT_DIR / ".local").resolve()
    local_dir.mkdir(parents=True, exist_ok=True)
    # Everything AWS goes to the embedded moto; never to a real account.
    for name in [n for n in env if n.startswith("AWS_ENDPOINT_URL_")] + [
            "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"]:
        env.pop(name, None)
    env.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "PYTHONUNBUFFERED": "1",
    })
    # documented settings: what the caller set wins over the default
    for name, default in (("TABLE_PREFIX", "local-"), ("BUCKET_PREFIX", "local-"),
                          ("QUEUE_PREFIX", "local-"),
                          ("SERVER_CONFIG_FILE", str(local_dir / "server.toml")),
                          ("POWERTOOLS_TRACE_DISABLED", "true")):
        env[name] = env.get(name) or default
    shown = {}
    for name, default in DEFAULTS.items():
        shown[name] = (env.get(name) or default, "" if env.get(name) else " (default)")
        env[name] = shown[name][0]
    if env.get("ADMIN_PASSWORD"):
        shown["ADMIN_PASSWORD"] = (env["ADMIN_PASSWORD"], "")
    else:
        env["ADMIN_PASSWORD"] = secrets.token_urlsafe(12)
        shown["ADMIN_PASSWORD"] = (env["ADMIN_PASSWORD"], " (generated)")
    if env.get("NODE_SECRET"):
        shown["NODE_SECRET"] = (env["NODE_SECRET"], "")
    else:
        env["NODE_SECRET"] = secrets.token_hex(24)
        shown["NODE_SECRET"] = (env["NODE_SECRET"], " (generated)")
    public_key, key_path = _device_key(local_dir)
    env["ADMIN_DEVICE_PUBLIC_KEY"] = public_key
    shown["ADMIN_DEVICE_PUBLIC_KEY"] = (
        public_key, f" (signing key in {key_path})" if key_path else " (yours; sign with its private key)")
    return {"shown": shown, "key_path": key_path, "local_dir": local_dir}


# --- embedded AWS ----------------------------------------------------------------------

MOTO_START_TIMEOUT = 15.0


def start_moto(moto_port: int) -> subprocess.Popen:
    """moto's server in a child process; returns once it listens on 127.0.0.1:moto_port."""
    from local.moto_server import READY_LINE
    proc = subprocess.Popen([sys.executable, "-m", "local.moto_server", "--port", str(moto_port)],
                            cwd=PROJECT_DIR, env=dict(os.environ), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, text=True)
    ready = threading.Event()

    def relay() -> None:  # the ready line, then anything else moto prints
        for line in proc.stdout:
            if READY_LINE in line:
                ready.set()
            else:
                print(f"[moto] {line.rstrip()}", flush=True)
        ready.set()

    threading.Thread(target=relay, name="moto-output", daemon=True).start()
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while time.monotonic() < deadline and not ready.wait(0.1):
        pass
    if proc.poll() is not None or not ready.is_set():
        stop_moto(proc)
        fail(f"the embedded AWS (moto) did not start on 127.0.0.1:{moto_port}; "
             f"is the port taken? pick another, e.g. MOTO_PORT={moto_port + 1} make run")
    return proc


def stop_moto(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# --- scheduled functions ---------------------------------------------------------------

def run_schedules(stop: threading.Event) -> None:
    """Call each job of chalicelib.features.JOBS at its rate, first right away."""
    from chalicelib import features
    due = {name: time.monotonic() for name in features.JOBS}
    while not stop.is_set():
        for name, job in features.JOBS.items():
            minutes = job.minutes
            if stop.is_set() or time.monotonic() < due[name]:
                continue
            started = time.monotonic()
            try:
                result = job.run()
                print(f"[jobs] {name} ok in {time.monotonic() - started:.2f}s: "
                      f"{json.dumps(result, default=str)}", flush=True)
            except Exception as exc:  # a failing job must not stop the others
                last = traceback.extract_tb(exc.__traceback__)[-1:] or None
                where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
                print(f"[jobs] {name} FAILED in {time.monotonic() - started:.2f}s: "
                      f"{type(exc).__name__}: {exc}{where}", flush=True)
            due[name] = started + minutes * 60
        stop.wait(1.0)


# --- chalice local ---------------------------------------------------------------------

def chalice_command(port: int) -> list[str]:
    """The chalice CLI with local/gateway.py's API Gateway parity."""
    try:
        import chalice.cli  # noqa: F401
    except ImportError:
        fail(f"chalice is not installed for {sys.executable}; run `make run` (it installs "
             "requirements-dev.txt)")
    return [sys.executable, "-m", "local.gateway", "--project-dir", str(PROJECT_DIR), "local",
            "--host", "127.0.0.1", "--port", str(port), "--no-autoreload",
            "--stage", CHALICE_STAGE]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chalice local exited with code {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url + "/openapi.json", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"chalice local did not answer on {url} within {timeout:.0f} s")


def stop_chalice(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _shown_path(path) -> str:
    """Relative to the project when inside it (commands are run from there)."""
    path = os.path.abspath(path)
    if path.startswith(str(PROJECT_DIR) + os.sep):
        return os.path.relpath(path, PROJECT_DIR)
    return path


def print_howto(url: str, prepared: dict, device_address: str) -> None:
    shown = prepared["shown"]
    py = _shown_path(sys.executable)
    email, password = shown["ADMIN_EMAIL"][0], shown["ADMIN_PASSWORD"][0]
    login = json.dumps({"email": email, "password": password})
    key_path = prepared["key_path"]
    key_file = _shown_path(key_path) if key_path else "<your seed file>"
    lines = [
        "",
        f"Control plane ready at {url}   (OpenAPI: {url}/openapi.json)",
        "",
        "Operator login (prints an admin_token; send it as Authorization: Bearer <token>):",
        f"  curl -s -X POST {url}/api/login -H 'Content-Type: application/json' \\",
        f"       -d '{login}'",
        "",
        f"Admin device login as {device_address}:",
        (f"  signing key (Ed25519 seed, hex): {key_file}" if key_path else
         "  sign with the private key of ADMIN_DEVICE_PUBLIC_KEY"),
        f"  CH=$(curl -s {url}/admin/v1/auth/challenge | {py} -c "
        "'import json,sys; print(json.load(sys.stdin)[\"challenge\"])')",
        f"  SIG=$({py} -c 'import sys; from nacl.signing import SigningKey; "
        "print(SigningKey(bytes.fromhex(open(sys.argv[1]).read().strip()))"
        f".sign(sys.argv[2].encode()).signature.hex())' {key_file} $CH)",
        f"  curl -s -X POST {url}/admin/v1/auth -H 'Content-Type: application/json' \\",
        f"       -d '{{\"device_address\":\"{device_address}\",\"challenge\":\"'$CH'\","
        "\"challenge_signature\":\"'$SIG'\",\"timestamp\":'$(date +%s)'}'",
        "",
        f"Node secret (X-Node-Secret on /internal/...): {shown['NODE_SECRET'][0]}",
        f"Embedded AWS (moto): {os.environ['AWS_ENDPOINT_URL']}   "
        f"admin list: {_shown_path(os.environ['SERVER_CONFIG_FILE'])}",
        f"Operator dashboard: {url}/dashboard/" + (
            "" if os.environ.get("DASHBOARD_DIR") else "  (not built: npm is missing)"),
        "Scheduled functions run here at their rates ([jobs] lines). Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


# --- main ------------------------------------------------------------------------------

def main() -> int:
    os.chdir(PROJECT_DIR)
    port = _port("PORT", DEFAULT_PORT)
    moto_port = _port("MOTO_PORT", DEFAULT_MOTO_PORT)
    check_ports(port, moto_port)

    stop = threading.Event()
    starting = True

    def on_signal(signum, _frame):
        stop.set()
        if starting:
            raise Stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    moto = proc = scheduler = None
    consumers: list = []
    code = 0
    try:
        prepared = prepare_env(port, moto_port)
        say("bootstrap values (set them in the environment to change them):")
        for name, (value, note) in prepared["shown"].items():
            say(f"  {name}={value}{note}")

        moto = start_moto(moto_port)
        say(f"embedded AWS (moto) on http://127.0.0.1:{moto_port} (pid {moto.pid})")

        # chalicelib reads the environment once; make sure it reads the one set above.
        from chalicelib.core import settings
        settings.reset()
        from chalicelib import bootstrap
        from chalicelib.store import aws
        from chalicelib.store.provision import provision
        aws.reset()
        provision()
        result = bootstrap.run(os.environ["ADMIN_EMAIL"], os.environ["ADMIN_PASSWORD"],
                               os.environ["ADMIN_DEVICE_PUBLIC_KEY"], os.environ["NODE_SECRET"])
        say(f"tables, buckets and secrets created; admin device {result.device_address}")

        url = f"http://127.0.0.1:{port}"
        if not os.environ.get("DASHBOARD_DIR"):
            from local import dashboard
            built = dashboard.ensure_built(say)
            if built is not None:
                os.environ["DASHBOARD_DIR"] = str(built)
        proc = subprocess.Popen(chalice_command(port), cwd=PROJECT_DIR, env=dict(os.environ))
        wait_ready(url, proc, float(os.environ.get("READY_TIMEOUT") or 60))

        scheduler = threading.Thread(target=run_schedules, args=(stop,), name="schedules",
                                     daemon=True)
        scheduler.start()
        from local import consumer
        from chalicelib.store import queues
        consumers = [threading.Thread(target=consumer.consume, args=(stop,),
                                      kwargs={"log": lambda line: print(line, flush=True),
                                              "queue": logical},
                                      name=f"{logical}-{n}", daemon=True)
                     for logical in queues.QUEUES for n in range(consumer.CONSUMERS)]
        for thread in consumers:
            thread.start()
        print_howto(url, prepared, result.device_address)

        starting = False
        if stop.is_set():
            raise Stop()
        while not stop.is_set():
            if proc.poll() is not None:
                stop.wait(0.3)  # a Ctrl-C reaches chalice too: did we get one as well?
                if not stop.is_set():
                    say(f"chalice local exited unexpectedly with code {proc.returncode}; stopping")
                    code = proc.returncode if proc.returncode > 0 else 128 - proc.returncode
                break
            if moto.poll() is not None:
                say(f"the embedded AWS (moto) exited unexpectedly with code {moto.returncode}; "
                    "stopping")
                code = 1
                break
            stop.wait(0.5)
    except Stop:
        pass
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # startup failed: say why, clean up, exit non-zero
        starting = False
        traceback.print_exc()
        say(f"error: {type(exc).__name__}: {exc}")
        code = 1
    finally:
        starting = False
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("stopping")
        stop.set()
        stop_chalice(proc)
        if scheduler is not None:
            scheduler.join(10)
        for thread in consumers:
            thread.join(10)
        stop_moto(moto)
        say("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
