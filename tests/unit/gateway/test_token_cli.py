"""``pspx token``: tokens for trying the API, checked against the registry when it answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.auth import LocalKeys, LocalVerifier, Principal, Role, role_fits
from gateway.demo import demo_users
from pspx.events.registry import OrgKind
from pspx.settings import Settings
from stack.cli import app
from stack.demo.seed import DATA, ORGANISATION_FILES
from stack.embedded import free_port
from stack.importer import read
from tests.unit.gateway.conftest import JsonServer


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for the command: its own data directory and, at first, no registry."""
    monkeypatch.setenv("PSPX_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PSPX_OIDC_ISSUER", "")
    monkeypatch.setenv("PSPX_REGISTRY_URL", f"http://127.0.0.1:{free_port()}")
    return Settings(data_dir=tmp_path, oidc_issuer="")


async def verified(settings: Settings, token: str) -> Principal:
    return await LocalVerifier(LocalKeys(settings), settings).verify(token)


async def test_a_token_is_printed_with_a_warning_when_the_registry_is_down(env: Settings) -> None:
    result = CliRunner().invoke(app, ["token", "--org", "GB-LAE-MAN", "--role", "commissioner"])

    assert result.exit_code == 0, result.stderr
    assert "organisation GB-LAE-MAN could not be checked" in result.stderr
    principal = await verified(env, result.stdout.strip())
    assert principal == Principal("commissioner@GB-LAE-MAN", "GB-LAE-MAN", Role.COMMISSIONER)


async def test_name_and_subject_are_carried(env: Settings) -> None:
    result = CliRunner().invoke(
        app,
        [
            *("token", "--org", "GB-CHC-1", "--role", "partner"),
            *("--name", "Volunteer coordinator", "--subject", "u-42"),
        ],
    )

    assert result.exit_code == 0, result.stderr
    principal = await verified(env, result.stdout.strip())
    assert principal == Principal("u-42", "GB-CHC-1", Role.PARTNER, "Volunteer coordinator")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--role", "admin"], "unknown role 'admin' (one of commissioner, partner, operator)"),
        (["--role", "partner"], "give --org and --role, or --demo"),
    ],
)
def test_a_bad_request_exits_2(env: Settings, args: list[str], reason: str) -> None:
    org = [] if reason.startswith("give") else ["--org", "GB-LAE-MAN"]

    result = CliRunner().invoke(app, ["token", *org, *args])

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"pspx token: {reason}\n"


@pytest.mark.parametrize("args", [["--org", "GB-LAE-MAN", "--role", "commissioner"], ["--demo"]])
def test_no_token_when_an_identity_provider_signs_them(
    env: Settings, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("PSPX_OIDC_ISSUER", "https://idp.example/realms/pspx")

    result = CliRunner().invoke(app, ["token", *args])

    assert (result.exit_code, result.stdout) == (2, "")
    assert "tokens come from your identity provider" in result.stderr
    assert not (env.data_dir / "gateway").exists()


def organisation(kind: OrgKind) -> tuple[int, dict[str, object]]:
    return 200, {"id": "x", "version": 1, "profile": {"name": "x", "kind": kind.value}}


@pytest.mark.parametrize(
    ("org", "role", "reason"),
    [
        (
            "GB-CHC-1",
            "commissioner",
            "a commissioner must act for a public body; GB-CHC-1 is a charity",
        ),
        ("GB-CHC-404", "partner", "organisation GB-CHC-404 is not registered"),
    ],
)
def test_the_registry_refuses_what_does_not_fit(
    env: Settings,
    monkeypatch: pytest.MonkeyPatch,
    json_server: JsonServer,
    org: str,
    role: str,
    reason: str,
) -> None:
    json_server.routes["/organisations/GB-CHC-1"] = organisation(OrgKind.CHARITY)
    monkeypatch.setenv("PSPX_REGISTRY_URL", json_server.url)

    result = CliRunner().invoke(app, ["token", "--org", org, "--role", role])

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"pspx token: {reason}\n"
    assert json_server.hits == [f"/organisations/{org}"]


async def test_a_fitting_organisation_gets_its_token_without_a_warning(
    env: Settings, monkeypatch: pytest.MonkeyPatch, json_server: JsonServer
) -> None:
    json_server.routes["/organisations/GB-CHC-1"] = organisation(OrgKind.CHARITY)
    monkeypatch.setenv("PSPX_REGISTRY_URL", json_server.url)

    result = CliRunner().invoke(app, ["token", "--org", "GB-CHC-1", "--role", "partner"])

    assert (result.exit_code, result.stderr) == (0, "")
    assert (await verified(env, result.stdout.strip())).org_id == "GB-CHC-1"


async def test_demo_lists_every_demo_user_with_a_token(env: Settings) -> None:
    result = CliRunner().invoke(app, ["token", "--demo"])

    assert result.exit_code == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    users = demo_users()
    assert [row[:3] for row in rows] == [[u.subject, u.role, u.org_id] for u in users]
    for user, row in zip(users, rows, strict=True):
        assert await verified(env, row[3]) == user.principal()


# --- the demo users ----------------------------------------------------------------------------


def demo_organisations() -> dict[str, OrgKind]:
    registrations = [row for name in ORGANISATION_FILES for _, row in read(DATA / name)]
    assert [r for r in registrations if isinstance(r, str)] == []
    return {r.id: r.profile.kind for r in registrations if not isinstance(r, str)}


def test_each_demo_user_acts_for_a_demo_organisation_its_role_fits() -> None:
    kinds = demo_organisations()
    users = demo_users()

    assert {u.org_id for u in users} <= kinds.keys()
    assert all(role_fits(u.role, kinds[u.org_id]) for u in users)
    assert len({u.subject for u in users}) == len(users)
    counts = {role: sum(u.role is role for u in users) for role in Role}
    assert counts[Role.COMMISSIONER] >= 2 and counts[Role.PARTNER] >= 2
    assert counts[Role.OPERATOR] >= 1


def test_the_operators_organisation_is_the_platform() -> None:
    [platform] = [json.loads(line) for line in (DATA / "platform.jsonl").read_text().splitlines()]
    operators = {u.org_id for u in demo_users() if u.role is Role.OPERATOR}

    assert "platform.jsonl" in ORGANISATION_FILES
    assert (platform["kind"], operators) == ("private", {platform["id"]})
