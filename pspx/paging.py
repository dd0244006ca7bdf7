"""Keyset pagination: one cursor scheme for every listing of every service.

A listing names an ``Order`` (keys with directions, ``_id`` last so the order
is total). A page's cursor holds the order's name and the keys of its last
document, so the next page starts strictly after it, however the collection
changed in between, and a cursor of one order is refused by another.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from pspx.errors import DomainError

T = TypeVar("T")
Document = dict[str, Any]


@dataclass(frozen=True)
class Order:
    name: str
    keys: tuple[tuple[str, int], ...]  # (field, ASCENDING or DESCENDING); ``_id`` last

    def after(self, last: list[Any]) -> Document:
        """A filter for the documents strictly after ``last`` in this order."""
        branches = []
        for i, (key, direction) in enumerate(self.keys):
            branch: Document = {k: last[j] for j, (k, _) in enumerate(self.keys[:i])}
            branch[key] = {"$gt" if direction == ASCENDING else "$lt": last[i]}
            branches.append(branch)
        return {"$or": branches}

    def cursor(self, doc: Document) -> str:
        data = json.dumps({"order": self.name, "after": [doc[k] for k, _ in self.keys]})
        return base64.urlsafe_b64encode(data.encode()).decode()

    def decode(self, cursor: str) -> list[Any]:
        try:
            data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        except (binascii.Error, ValueError) as exc:  # ValueError covers bad JSON and UTF-8
            raise DomainError("not a cursor this API issued", field="cursor") from exc
        if not isinstance(data, dict) or data.get("order") != self.name:
            raise DomainError(f"not a cursor of the {self.name} order", field="cursor")
        last = data.get("after")
        if not isinstance(last, list) or len(last) != len(self.keys):
            raise DomainError("not a cursor this API issued", field="cursor")
        return last


BY_ID = Order("id", (("_id", ASCENDING),))


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )


async def page(
    collection: AsyncCollection[Document],
    query: Document,
    order: Order,
    cursor: str | None,
    limit: int,
) -> tuple[list[Document], str | None]:
    """One page of documents in ``order``, and the cursor of the next page if there is one."""
    if cursor:
        query = {"$and": [query, order.after(order.decode(cursor))]}
    found = await collection.find(query).sort(list(order.keys)).limit(limit + 1).to_list()
    docs = found[:limit]
    return docs, (order.cursor(docs[-1]) if len(found) > limit else None)
