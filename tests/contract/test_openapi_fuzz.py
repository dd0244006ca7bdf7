"""Each running service against schemathesis, a third-party fuzzer of its OpenAPI document.

The services run as their own processes (``pspx serve``) on the real broker and
Mongo-wire server. Schemathesis generates valid and invalid requests for every
operation, within a bounded number of examples, and checks that no answer is a
server error and that every status, content type and body is the one the
document declares.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack import manifest
from tests.conftest import Stack, processes

pytestmark = pytest.mark.integration

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)
EXAMPLES = 30  # per operation and phase: bounded, so the run takes about a minute in all
SEED = 20261123  # the same cases on every run; change it to explore others


# The services' HTTP APIs; the gateway's is GraphQL (docs/schema.graphql), not OpenAPI.
INTERNAL = [s.name for s in manifest.SERVICES if not s.public]


@pytest.fixture(scope="module")
def services(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    logs = tmp_path_factory.mktemp("logs")
    # The exchange asks matching for search: matching runs too, so that path is real.
    with processes(stack.settings(), INTERNAL, logs) as urls:
        yield urls


def schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert found, "schemathesis is a dev dependency: make install-dev"
    return found


@pytest.mark.parametrize("name", INTERNAL)
def test_every_answer_is_documented_and_none_is_a_server_error(
    name: str, services: dict[str, str], tmp_path: Path
) -> None:
    run = subprocess.run(
        [
            schemathesis(),
            "run",
            f"{services[name]}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            # One worker: the coverage phase parses code in threads, which CPython 3.11
            # can fail at with "AST constructor recursion depth mismatch".
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--no-color",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = run.stdout[run.stdout.find("SUMMARY") :]
    print(f"{name}:\n{summary}")
    assert run.returncode == 0, run.stdout[-20_000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert generated, summary
    assert int(generated[1]) >= 100  # it really ran: every operation got cases
    assert generated[1] == generated[2]
