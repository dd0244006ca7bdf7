"""`pspx up` as an operator runs it: separate processes, status, Ctrl-C, restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from stack.embedded import free_port

pytestmark = pytest.mark.integration

PSPX = [sys.executable, "-m", "stack.cli"]


def env(tmp_path: Path) -> dict[str, str]:
    ports = {
        name: str(free_port())
        for name in ("KAFKA", "MONGO", "REGISTRY", "MATCHING", "EXCHANGE", "GATEWAY")
    }
    return {
        **os.environ,
        **{f"PSPX_{name}_PORT": port for name, port in ports.items()},
        "PSPX_DATA_DIR": str(tmp_path / "var"),
    }


def start(environ: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*PSPX, "up", "--no-seed"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], text: str, timeout_s: float = 180) -> list[str]:
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip())
        if text in line:
            return seen
    raise AssertionError(f"never printed {text!r}: {seen}")


def status(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PSPX, "status"], env=environ, capture_output=True, text=True, timeout=60
    )


def test_up_status_stop_and_restart_keeps_the_data(tmp_path: Path) -> None:
    environ = env(tmp_path)
    registry = f"http://127.0.0.1:{environ['PSPX_REGISTRY_PORT']}"
    council = {"id": "GB-LAS-FIF", "profile": {"name": "Fife Council", "kind": "public_body"}}
    charity = {"id": "GB-SC-SC000042", "profile": {"name": "Fife Food Bank", "kind": "charity"}}

    proc = start(environ)
    try:
        lines = wait_for_line(proc, "PSP Exchange is up")
        assert any(f"registry  ready at {registry}" in line for line in lines)
        gateway = f"http://127.0.0.1:{environ['PSPX_GATEWAY_PORT']}"
        assert any(f"(web: {gateway}/, GraphQL: {gateway}/graphql)" in line for line in lines)
        start_page = httpx.get(f"{gateway}/", timeout=10)
        assert start_page.status_code == 200 and "PSP Exchange" in start_page.text
        checked = status(environ)
        assert checked.returncode == 0, checked.stdout
        for org in (council, charity):
            response = httpx.post(f"{registry}/organisations", json=org, timeout=10)
            assert response.status_code == 201

        second = start(environ)  # the same ports: refused with a message, not a traceback
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 1
        assert "already in use" in out and "Traceback" not in out
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "stopped kafka" in out
    assert status(environ).returncode == 1  # everything is down

    proc = start(environ)
    try:
        wait_for_line(proc, "PSP Exchange is up")
        found = httpx.get(f"{registry}/organisations/GB-LAS-FIF", timeout=10)
        assert found.status_code == 200 and found.json()["profile"]["name"] == "Fife Council"
        matching = f"http://127.0.0.1:{environ['PSPX_MATCHING_PORT']}"
        # The broker started empty: the registry republished, matching rebuilt from it.
        index = httpx.get(f"{matching}/index", timeout=10).json()
        assert index["partners"] == 1  # the charity; a public body is not a partner
        ranked = httpx.post(f"{matching}/rank", json={"description": "food bank"}, timeout=10)
        assert [r["id"] for r in ranked.json()["results"]] == [charity["id"]]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def test_a_part_that_dies_is_started_again_with_a_line_saying_so(tmp_path: Path) -> None:
    environ = env(tmp_path)
    matching = f"http://127.0.0.1:{environ['PSPX_MATCHING_PORT']}"
    proc = start(environ)
    try:
        wait_for_line(proc, "PSP Exchange is up")
        [child] = [
            c
            for c in psutil.Process(proc.pid).children(recursive=True)
            if "serve" in c.cmdline() and "matching" in c.cmdline()
        ]
        child.send_signal(signal.SIGKILL)
        lines = wait_for_line(proc, "matching started again", timeout_s=60)
        assert any("matching exited with code -9; starting it again in 1 s" in li for li in lines)
        deadline = time.monotonic() + 60
        while status(environ).returncode != 0:
            assert time.monotonic() < deadline, status(environ).stdout
            time.sleep(0.5)
        assert httpx.get(f"{matching}/readyz", timeout=10).status_code == 200
        assert proc.poll() is None  # nothing else stopped
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped kafka" in out
