"""deploy/.env.example: every setting the code reads, each explained, secrets left empty.

A setting is listed when its line is `PSPX_NAME=value`, or `# PSPX_NAME=value` for the few that
only the embedded stack (`pspx up`) reads: those are shown but never set in a container.
"""

from __future__ import annotations

import re

from pspx.settings import Settings
from tests.deploy import files

# Read by `pspx up` alone (it starts its own broker and database on these ports).
EMBEDDED_ONLY = {"kafka_port", "mongo_port"}
# Keys and secrets: an example must never carry one that works.
SECRET = re.compile(r"secret|password|(signing|private|api)_key")
OIDC = {"oidc_issuer", "oidc_jwks_url", "oidc_client_id", "oidc_client_secret", "public_url"}
COMPOSE_OWNED = "Set by docker-compose.yml"


def listed() -> dict[str, files.EnvLine]:
    lines = files.env_example()
    names = [line.name for line in lines]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert duplicates == [], f"listed more than once: {duplicates}"
    return {line.name: line for line in lines}


def normalised(text: str) -> str:
    return " ".join(text.split()).lower()


def test_every_setting_the_code_reads_is_listed() -> None:
    missing = sorted(set(Settings.model_fields) - set(listed()))
    assert missing == [], f"add PSPX_{{NAME}}= lines for {missing}"


def test_every_line_is_a_real_setting() -> None:
    unknown = sorted(set(listed()) - set(Settings.model_fields))
    assert unknown == [], f"not settings of pspx/settings.py: {unknown}"


def test_only_embedded_only_settings_are_commented_out() -> None:
    commented = {name for name, line in listed().items() if line.commented}
    assert commented <= EMBEDDED_ONLY, f"set these, or say why not: {commented - EMBEDDED_ONLY}"


def test_each_setting_says_what_it_is_with_its_description() -> None:
    for name, line in listed().items():
        description = Settings.model_fields[name].description or ""
        assert description, f"{name} has no description in pspx/settings.py"
        assert normalised(description) in normalised(line.comment), (
            f"PSPX_{name.upper()}: the comment above it should say {description!r}"
        )


def test_secrets_have_no_working_default() -> None:
    secrets = {name for name in Settings.model_fields if SECRET.search(name)}
    assert {"session_secret", "oidc_client_secret"} <= secrets
    for name in secrets:
        line = listed()[name]
        assert not line.commented and line.value == "", f"PSPX_{name.upper()} must be empty"
        assert "SECRET: no default" in line.comment, f"PSPX_{name.upper()} says it is a secret"


def test_the_sign_in_settings_are_there_to_fill_in() -> None:
    for name in OIDC:
        line = listed()[name]
        assert not line.commented, f"PSPX_{name.upper()} is a production setting"


def test_the_values_are_valid_settings() -> None:
    values = {name: line.value for name, line in listed().items() if not line.commented}
    Settings.model_validate(values)


def test_values_compose_sets_itself_are_shown_as_compose_sets_them() -> None:
    service = files.services()["registry"]
    wiring = {k.removeprefix("PSPX_").lower(): v for k, v in files.environment(service).items()}
    for name, line in listed().items():
        if name in wiring:
            assert line.value == wiring[name], f"PSPX_{name.upper()}: compose sets {wiring[name]}"
            assert COMPOSE_OWNED in line.comment, f"PSPX_{name.upper()} says compose sets it"
        else:
            assert COMPOSE_OWNED not in line.comment, f"compose does not set PSPX_{name.upper()}"
