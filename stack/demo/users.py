"""Demo users for trying the API, and the registry check ``pspx token`` makes before signing."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict

from gateway.auth import Principal, Role
from pspx.events.registry import OrgKind

USERS = Path(__file__).parent / "data" / "users.jsonl"
REGISTRY_TIMEOUT_S = 2.0


class DemoUser(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str
    name: str  # what the user does and for whom: the demo names no real person
    org_id: str
    role: Role

    def principal(self) -> Principal:
        return Principal(self.subject, self.org_id, self.role, self.name)


def demo_users(path: Path = USERS) -> list[DemoUser]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [DemoUser.model_validate_json(line) for line in lines if line.strip()]


def registered_kind(registry_url: str, org_id: str) -> OrgKind | None:
    """The organisation's kind, None when it is not registered; ``httpx.HTTPError`` when the
    registry does not answer."""
    url = f"{registry_url}/organisations/{quote(org_id, safe='')}"
    response = httpx.get(url, timeout=REGISTRY_TIMEOUT_S)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return OrgKind(response.json()["profile"]["kind"])
