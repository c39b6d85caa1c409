"""Build the operator dashboard (dashboard/, Vite + TypeScript) when its sources changed.

`npm ci` runs when node_modules is missing or older than package-lock.json, then
`npm run build` when dashboard/dist is missing or older than any source. A file lock
keeps parallel `make run` stacks (the end-to-end tests start several) from building at
once. Without npm the dashboard is skipped with a warning: the API runs anyway.

`python -m local.dashboard` builds it (the Makefile's test target does, once)."""
from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard"
DIST = DASHBOARD / "dist"
SOURCES = ("src", "index.html", "package.json", "package-lock.json", "vite.config.ts",
           "tsconfig.json")


def _newest(path: Path) -> float:
    if not path.exists():
        return 0.0
    if path.is_file():
        return path.stat().st_mtime
    return max((p.stat().st_mtime for p in path.rglob("*") if p.is_file()), default=0.0)


def _oldest_output() -> float:
    index = DIST / "index.html"
    return index.stat().st_mtime if index.exists() else 0.0


def needs_install() -> bool:
    modules = DASHBOARD / "node_modules" / ".package-lock.json"
    return not modules.exists() or modules.stat().st_mtime < _newest(DASHBOARD / "package-lock.json")


def needs_build() -> bool:
    built = _oldest_output()
    return not built or any(_newest(DASHBOARD / name) > built for name in SOURCES)


def ensure_built(log=print) -> Path | None:
    """The folder of the built files, or None when it cannot be built here."""
    if not needs_install() and not needs_build():
        return DIST
    npm = shutil.which("npm")
    if npm is None:
        log("npm not found: the dashboard (/dashboard/) is not built; install Node 20+")
        return DIST if (DIST / "index.html").exists() else None
    with open(DASHBOARD / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another stack may be building: wait for it
        try:
            if needs_install():
                log("dashboard: npm ci")
                subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                               cwd=DASHBOARD, check=True, stdin=subprocess.DEVNULL)
            if needs_build():
                log("dashboard: npm run build")
                subprocess.run([npm, "run", "build", "--silent"], cwd=DASHBOARD, check=True,
                               stdin=subprocess.DEVNULL)
                (DIST / "index.html").touch()
        except subprocess.CalledProcessError as exc:
            log(f"dashboard build failed ({exc}); /dashboard/ serves the previous build")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return DIST if (DIST / "index.html").exists() else None


if __name__ == "__main__":
    sys.exit(0 if ensure_built(lambda m: print(f"[dashboard] {m}", flush=True)) else 1)
