"""Demo users, one for each role, for trying PSP Exchange on the embedded default: the web
front end offers them at sign-in and ``pspx token --demo`` prints their tokens. Their
organisations are in the demo data (``pspx demo``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from gateway.auth import Principal, Role

USERS = Path(__file__).parent / "demo_users.jsonl"


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
