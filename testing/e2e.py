"""The stack as `make run` starts it (moto's server, bootstrap, `chalice local`, the
schedules), on free ports in a process group of its own: what the end-to-end tests and
the HTTP benchmarks drive, and the contention probe they both run."""
from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from nacl.signing import SigningKey

PROJECT_DIR = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SERVER_NAME = "chat.example.com"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "e2e correct horse battery staple"
NODE_SECRET = "e2e-node-secret"


# --- helpers ---------------------------------------------------------------------------

def free_port(taken: tuple[int, ...] = ()) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port


def runner_env(port: int, moto_port: int, local_dir: Path, **extra: str) -> dict:
    env = dict(os.environ)
    for name in ("SERVER_CONFIG_FILE", "TABLE_PREFIX", "BUCKET_PREFIX", "QUEUE_PREFIX"):  # this process's
        env.pop(name, None)
    env.update({
        "PORT": str(port),
        "MOTO_PORT": str(moto_port),
        "LOCAL_DIR": str(local_dir),  # leaves the developer's .local/ alone
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "NODE_SECRET": NODE_SECRET,
        "SERVER_NAME": SERVER_NAME,
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def start_runner(env: dict, **popen) -> subprocess.Popen:
    """`python -m local.run` as `make run` starts it, in a process group of its own."""
    return subprocess.Popen([sys.executable, "-m", "local.run"], cwd=PROJECT_DIR, env=env,
                            stdin=subprocess.DEVNULL, start_new_session=True, **popen)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL what is left of the runner's group (it and `chalice local`); never raises."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@dataclass
class Stack:
    url: str
    proc: subprocess.Popen
    log_path: Path
    device_key: SigningKey
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def device_address(self) -> str:
        public = self.device_key.verify_key.encode()
        return f"{hashlib.blake2b(public, digest_size=16).hexdigest()}@{SERVER_NAME}"

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def call(self, method: str, path: str, token: str | None = None, body=None,
             headers: dict | None = None) -> requests.Response:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.url + path, json=body, headers=hdrs, timeout=30)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the runner exited with code {self.proc.returncode} "
                                   f"before it was ready; its output:\n{self.output()}")
            try:
                answer = requests.get(self.url + "/openapi.json", timeout=2)
                last = answer.status_code
                # the runner prints its how-to once its own readiness check has passed
                if answer.status_code == 200 and "ready at" in self.output():
                    return
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.25)
        raise RuntimeError(f"the stack was not ready within {timeout:.0f} s (last: {last!r}); "
                           f"the runner's output:\n{self.output()}")


@contextlib.contextmanager
def running_stack(tmp: Path, **extra_env: str):
    """A ready stack with a generated admin device key; killed on the way out."""
    port = free_port()
    key = SigningKey.generate()
    env = runner_env(port, free_port(taken=(port,)), tmp / "local",
                     ADMIN_DEVICE_PUBLIC_KEY=key.verify_key.encode().hex(), **extra_env)
    log_path = tmp / "runner.log"
    with open(log_path, "wb") as log:
        proc = start_runner(env, stdout=log, stderr=subprocess.STDOUT)
    running = Stack(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path,
                    device_key=key)
    try:
        running.wait_ready()
        yield running
    finally:
        running.http.close()
        kill_group(proc)


def instance_with_writer(url: str, name: str) -> tuple[str, str, str]:
    """(operator token, instance id, write key of its prod environment) for an instance
    `name` with the order spec deployed in prod."""
    from testing.specs import ORDER_SPEC
    token = requests.post(url + "/api/login", json={"email": ADMIN_EMAIL,
                                                    "password": ADMIN_PASSWORD},
                          timeout=30).json()["admin_token"]
    auth = {"Authorization": f"Bearer {token}"}
    inst = requests.post(url + "/api/instances", json={"name": name}, headers=auth,
                         timeout=30).json()["id"]
    deployed = requests.post(url + f"/api/instances/{inst}/spec", headers=auth, timeout=30,
                             json={"environment": "prod", "spec": ORDER_SPEC})
    assert deployed.status_code == 201, deployed.text
    key = requests.post(url + f"/api/instances/{inst}/keys", headers=auth, timeout=30,
                        json={"name": "w", "scope": "write", "environment": "prod"}).json()["key"]
    return token, inst, key


def contend(url: str, stream: str, auth: dict, writers: int, each: int,
            timeout: float = 60) -> list[tuple[int, float, str]]:
    """`writers` threads, released together, each appending `each` item_added events
    (sku "w<writer>-<i>", in order) to /data/order/<stream>, none naming previous_length.
    Answers (status, seconds, text) per append; status 0 for a transport failure."""
    results: list[tuple[int, float, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(writers)

    def writer(n: int) -> None:
        session = requests.Session()
        start.wait()
        for i in range(each):
            began = time.monotonic()
            try:
                answer = session.post(f"{url}/data/order/{stream}/item_added", headers=auth,
                                      json={"data": {"sku": f"w{n}-{i}", "qty": 1},
                                            "metadata": {"actor": {"type": "user",
                                                                   "id": f"W{n:08d}"}}},
                                      timeout=timeout)
                status, text = answer.status_code, answer.text[:300]
            except requests.RequestException as exc:
                status, text = 0, f"{type(exc).__name__}: {exc}"
            with lock:
                results.append((status, time.monotonic() - began, text))
        session.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout * each)
    return results
