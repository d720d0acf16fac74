"""Shared by the live-path browser tests (Live Code, JupyterLab): Chromium through
Playwright, a local Jupyter server (loopback, token), free ports, the notebook chapters."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from paths import ROOT, course_chapters  # noqa: E402 - one reader of _toc.yml
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("SNNLEARN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-quic", "--no-first-run",
                 "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]


class Phases:
    """Wall time of a test's phases, printed as one line at the end (pytest shows a test's
    output with -s, -rA, or when it fails): where a browser test spends its time."""

    def __init__(self, what: str):
        self.what = what
        self.start = self.last = time.perf_counter()
        self.parts: list[str] = []

    def mark(self, label: str):
        now = time.perf_counter()
        self.parts.append(f"{label} {now - self.last:.1f} s")
        self.last = now

    def report(self):
        total = time.perf_counter() - self.start
        print(f"[time] {self.what}: " + ", ".join(self.parts) + f" (total {total:.1f} s)")


def required() -> bool:
    return (os.environ.get("CI", "").lower() == "true"
            or os.environ.get("SNNLEARN_REQUIRE_BROWSER", "") not in ("", "0"))


def skip_or_fail(reason: str):
    if required():
        pytest.fail(reason + " (required under CI)", pytrace=False)
    pytest.skip(reason)


def browser_problem() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (sudo apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -r requirements-dev.txt)"
    return None


def notebook_chapters() -> list[str]:
    """Docnames of the executed chapters of _toc.yml (tests/paths.py reads it)."""
    return course_chapters()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_loopback(url: str) -> bool:
    split = urlsplit(url)
    return split.scheme not in ("http", "https", "ws", "wss") or \
        split.hostname in ("127.0.0.1", "localhost", "::1")


class JupyterServer:
    """``jupyter <app>`` on 127.0.0.1 with a random token, in ``root``; stopped on exit."""

    def __init__(self, app: str, root: Path, log: Path, allow_origin: str = "",
                 extra: list[str] | None = None):
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        command = [str(BIN / "python"), "-m", app, "--no-browser", "--allow-root",
                   "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                   f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={root}"]
        if allow_origin:
            command.append(f"--ServerApp.allow_origin={allow_origin}")
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                   MPLBACKEND="module://matplotlib_inline.backend_inline")
        self.log = log
        self._log_file = open(log, "w")
        self.process = subprocess.Popen(command + (extra or []), cwd=root, env=env,
                                        stdout=self._log_file, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 90):
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(f"{self.url}/api/status",
                                         headers={"Authorization": f"token {self.token}"})
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"jupyter not ready in {timeout} s: {self.log.read_text()[-3000:]}")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()
