"""The registry check ``pspx token`` makes before signing; the demo users are the gateway's."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from pspx.events.registry import OrgKind

REGISTRY_TIMEOUT_S = 2.0


def registered_kind(registry_url: str, org_id: str) -> OrgKind | None:
    """The organisation's kind, None when it is not registered; ``httpx.HTTPError`` when the
    registry does not answer."""
    url = f"{registry_url}/organisations/{quote(org_id, safe='')}"
    response = httpx.get(url, timeout=REGISTRY_TIMEOUT_S)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return OrgKind(response.json()["profile"]["kind"])
