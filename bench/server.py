"""``veracity serve`` in a subprocess on a free loopback port, for the benchmarks that measure the real server
(memory in ``bench.speed``, load shedding in ``bench.load``): what a user runs, not the Flask test client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import ROOT


@contextmanager
def running_server(env: dict[str, str] | None = None, start_timeout_s: float = 180) -> Iterator[tuple[str, int]]:
    """Yields (base URL of ``/v1``, server pid); ``env`` adds ``VERACITY_*`` settings. Stopped on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    full_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VERACITY_PORT": str(port),
        "VERACITY_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    exe = Path(sys.executable).with_name("veracity")
    cmd = [str(exe), "serve"] if exe.exists() else [sys.executable, "-m", "veracity.service.cli", "serve"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        deadline = time.time() + start_timeout_s
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=5).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    stderr = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                    raise RuntimeError(f"veracity serve did not start: {stderr}") from None
                time.sleep(0.5)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def rss_mb(pid: int) -> dict[str, Any]:
    """VmRSS (now) and VmHWM (peak) of a process, in MB, from /proc."""
    fields: dict[str, Any] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields
