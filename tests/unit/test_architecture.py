"""The layout the design promises, checked: a pure domain, a kernel that knows no service,
services that know only the kernel, and one manifest the code agrees with."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stack import docs, manifest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_MODULES = [
    "pspx.domain",
    "pspx.errors",
    "pspx.events",
    "services.registry.domain",
    "services.registry.route",
    "services.exchange.domain",
    "pspx.markdown",
    "services.matching.documents",
    "services.matching.engine",
    "services.matching.index",
]
FRAMEWORKS = {"pymongo", "bson", "motor", "fastapi", "starlette", "faststream", "aiokafka", "httpx"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_domain_modules_load_no_database_web_or_broker_framework() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in DOMAIN_MODULES)
        + "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert FRAMEWORKS.isdisjoint(loaded), FRAMEWORKS & set(loaded)


def test_the_kernel_imports_no_service_and_no_entry_point() -> None:
    strays = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "pspx").rglob("*.py")
        for name in imports(path)
        if name.split(".")[0] in {"services", "stack", "gateway"}
    }
    assert strays == set()


@pytest.mark.parametrize("service", ["registry", "exchange", "matching"])
def test_a_service_imports_the_kernel_and_itself_only(service: str) -> None:
    strays = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "services" / service).rglob("*.py")
        for name in imports(path)
        if (name.startswith("services.") and not name.startswith(f"services.{service}"))
        or name.split(".")[0] in {"stack", "gateway"}
    }
    assert strays == set()


def test_the_gateway_reaches_the_services_over_http_only() -> None:
    strays = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "gateway").rglob("*.py")
        if "node_modules" not in path.parts
        for name in imports(path)
        if name.split(".")[0] in {"services", "stack", "pymongo", "motor", "faststream"}
    }
    assert strays == set()


def test_each_service_publishes_and_subscribes_as_its_manifest_entry_says() -> None:
    spec = json.loads(docs.asyncapi())
    topics: dict[str, dict[str, set[str]]] = {"send": {}, "receive": {}}
    for operation in spec["operations"].values():
        key = operation["channel"]["$ref"].rsplit("/", 1)[-1]
        # Publishers are titled "<service>:<topic>", subscribers "<service>.<subscription>".
        service = key.split(":")[0].split(".")[0]
        address = spec["channels"][key]["address"]
        topics[operation["action"]].setdefault(service, set()).add(address)
    for s in manifest.SERVICES:
        assert topics["send"].get(s.name, set()) == set(s.produces), s.name
        consumed = {t for sub in s.consumes for t in sub.topics}
        assert topics["receive"].get(s.name, set()) == consumed, s.name
