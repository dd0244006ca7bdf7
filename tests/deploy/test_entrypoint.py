"""What the containers run is a real command: the image's entrypoint (`pspx`) imports and
answers --help, and each compose command names a subcommand and a service it accepts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer.main

from stack import cli, manifest
from tests.deploy import files

PSPX = Path(sys.executable).with_name("pspx")


def help_of(*command: str) -> str:
    # Wide and plain, so that rich neither wraps a service's name nor colours it.
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    result = subprocess.run(
        [str(PSPX), *command, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_pspx_help_names_serve() -> None:
    assert "serve" in help_of()


def test_pspx_serve_help_names_every_service() -> None:
    text = help_of("serve")
    for name in manifest.names():
        assert name in text, f"pspx serve --help does not name {name}"


def test_every_compose_command_is_a_pspx_subcommand_and_service() -> None:
    group = typer.main.get_command(cli.app)
    subcommands = set(getattr(group, "commands", {}))
    for name, service in files.built_services().items():
        subcommand, *arguments = service["command"]
        assert subcommand in subcommands, f"{name}: pspx has no {subcommand!r}"
        if subcommand == "serve":
            assert arguments == [name] and name in manifest.names(), f"{name}: {arguments}"
        help_of(subcommand)
