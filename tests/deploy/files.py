"""The deployment files, read the way their tools read them, for the checks in tests/deploy.

Docker cannot run where the tests run, so each file is checked statically: the compose file as
YAML (anchors and merge keys resolved, as Compose resolves them), the Dockerfile as
instructions, .dockerignore with Docker's matching rules, deploy/.env.example line by line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
MONITORING = ROOT / "deploy" / "monitoring"

Service = dict[str, Any]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return loaded


def services() -> dict[str, Service]:
    found: dict[str, Service] = compose()["services"]
    return found


def built_services() -> dict[str, Service]:
    """The services whose image is built from this repository's Dockerfile."""
    return {name: s for name, s in services().items() if "build" in s}


def profiled(service: Service) -> bool:
    return bool(service.get("profiles"))


def one_off(service: Service) -> bool:
    """A container that does its work and exits (an init job), not one that keeps running."""
    return str(service.get("restart", "no")) == "no"


def depends_on(service: Service) -> dict[str, str]:
    """Each service this one waits for, with the condition it waits for (short or long form)."""
    given = service.get("depends_on") or {}
    if isinstance(given, list):
        return {name: "service_started" for name in given}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in given.items()}


def environment(service: Service) -> dict[str, str]:
    given = service.get("environment") or {}
    if isinstance(given, list):
        pairs = (item.split("=", 1) for item in given)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in given.items()}


def healthcheck_command(service: Service) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test") or []
    return [test] if isinstance(test, str) else [str(part) for part in test]


@dataclass(frozen=True)
class Port:
    host_ip: str
    published: str
    target: int


def ports(service: Service) -> list[Port]:
    """Published ports, short (`[ip:]published:target`) or long form."""
    found = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            found.append(
                Port(
                    str(entry.get("host_ip", "")),
                    str(entry.get("published", "")),
                    int(entry["target"]),
                )
            )
            continue
        parts = str(entry).split(":")
        target = int(parts[-1].split("/")[0])
        host_ip = parts[0] if len(parts) == 3 else ""
        published = parts[-2] if len(parts) >= 2 else ""
        found.append(Port(host_ip, published, target))
    return found


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    bind: bool


def mounts(service: Service) -> list[Mount]:
    found = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            source, target = str(entry.get("source", "")), str(entry["target"])
            found.append(Mount(source, target, entry.get("type") == "bind"))
            continue
        source, target = str(entry).split(":")[:2]
        found.append(Mount(source, target, source.startswith((".", "/", "~"))))
    return found


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    arguments: str


@cache
def dockerfile() -> tuple[Instruction, ...]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(DOCKERFILE.read_text(encoding="utf-8").splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction is not part of it
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped.removesuffix("\\").strip())
        if not continued:
            text = " ".join(part for part in pending if part)
            keyword, _, arguments = text.partition(" ")
            found.append(Instruction(start, keyword.upper(), arguments.strip()))
            pending = []
    return tuple(found)


def stages() -> dict[str, str]:
    """Each named build stage and the image it starts from."""
    found = {}
    for instruction in dockerfile():
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            words = [w for w in words if not w.startswith("--")]
            if len(words) == 3 and words[1].upper() == "AS":
                found[words[2]] = words[0]
    return found


@cache
def dockerignore_rules() -> tuple[tuple[bool, re.Pattern[str]], ...]:
    """(excludes, pattern) for each rule of .dockerignore, in order."""
    rules = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        rules.append((not include, re.compile(_glob_regex(pattern))))
    return tuple(rules)


def _glob_regex(pattern: str) -> str:
    """Docker's patterns: `*` and `?` stop at `/`, `**` spans directories."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def in_build_context(path: str) -> bool:
    """Whether Docker sends ``path`` (relative to the root) to the builder: the last rule that
    matches the path or one of its parent directories decides."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for excludes, pattern in dockerignore_rules():
        if any(pattern.fullmatch(candidate) for candidate in candidates):
            excluded = excludes
    return not excluded


@dataclass(frozen=True)
class EnvLine:
    name: str  # the setting's field name, e.g. kafka_bootstrap
    value: str
    commented: bool  # written as `# PSPX_X=value`: listed, but not set
    comment: str  # the comment block right above it, joined into one line


ENV_LINE = re.compile(r"^(?P<hash>#\s*)?PSPX_(?P<name>[A-Z0-9_]+)=(?P<value>.*)$")


def env_example() -> list[EnvLine]:
    found = []
    block: list[str] = []
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        match = ENV_LINE.match(line)
        if match:
            found.append(
                EnvLine(
                    name=match["name"].lower(),
                    value=match["value"],
                    commented=bool(match["hash"]),
                    comment=" ".join(block),
                )
            )
            block = []
        elif line.startswith("#"):
            block.append(line.lstrip("#").strip())
        else:
            block = []
    return found
