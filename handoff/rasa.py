"""The hub's port to the bot: Rasa's REST channel, behind a Protocol so tests can swap it.

With several Rasa processes (`CSKH_HUB_RASA_URLS`), `RasaPool` sends every conversation to
the same one while it is up (rendezvous hashing on the conversation id: adding or losing a
process moves only that process's conversations), and to the next one in that
conversation's order when it is not. The processes share the tracker store (PostgreSQL) and
the lock store (Redis), so a conversation that moves keeps its context.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

import httpx

log = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa could not answer (down, timed out, 5xx, or not JSON)."""


class RasaUnreachable(RasaUnavailable):
    """The message did not reach Rasa's handling (refused connection, 502/503), or the
    process died while handling it: another process may be asked."""


class RasaClient(Protocol):
    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Forward one customer message; return Rasa's list of bot messages."""
        ...

    async def healthy(self) -> bool: ...

    async def aclose(self) -> None: ...


class HttpRasaClient:
    """`POST {rasa_url}/webhooks/rest/webhook`, the contract in docs/contracts.md."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self._base_url = base_url.rstrip("/")
        # One pooled client for the process: keep-alive saves a TCP handshake per message.
        self._client = httpx.AsyncClient(base_url=self._base_url, timeout=timeout)

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        payload = {"sender": sender, "message": message, "metadata": metadata}
        try:
            resp = await self._client.post("/webhooks/rest/webhook", json=payload)
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise RasaUnreachable(f"{self._base_url}: {type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code in (502, 503):
            raise RasaUnreachable(f"{self._base_url}: HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise RasaUnavailable(f"HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise RasaUnavailable("response is not JSON") from exc
        if not isinstance(data, list):
            raise RasaUnavailable("response is not a list")
        return [m for m in data if isinstance(m, dict)]

    async def healthy(self) -> bool:
        try:
            resp = await self._client.get("/", timeout=2.0)
        except httpx.HTTPError:
            return False
        return resp.status_code < 500

    async def aclose(self) -> None:
        await self._client.aclose()


def rendezvous_order(key: str, urls: Sequence[str]) -> list[str]:
    """`urls` in this key's order of preference: stable for a key, spread across keys."""

    def weight(url: str) -> bytes:
        return hashlib.blake2b(f"{url}\x00{key}".encode(), digest_size=8).digest()

    return sorted(urls, key=weight, reverse=True)


class RasaPool:
    """Several Rasa processes behind one `RasaClient`; see the module docstring."""

    def __init__(
        self,
        urls: Sequence[str],
        timeout: float = 10.0,
        down_seconds: float = 10.0,
        *,
        clients: Sequence[RasaClient] | None = None,
    ) -> None:
        if not urls:
            raise ValueError("RasaPool needs at least one URL")
        self.urls = [u.rstrip("/") for u in urls]
        self._clients: dict[str, RasaClient] = dict(
            zip(self.urls, clients or [HttpRasaClient(u, timeout) for u in self.urls],
                strict=True)
        )
        self._down_seconds = down_seconds
        self._down_until: dict[str, float] = {}

    def order(self, sender: str) -> list[str]:
        """This conversation's processes, those believed up first."""
        now = time.monotonic()
        ranked = rendezvous_order(sender, self.urls)
        return sorted(ranked, key=lambda u: self._down_until.get(u, 0.0) > now)

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        last: RasaUnavailable | None = None
        for url in self.order(sender):
            try:
                replies = await self._clients[url].send(sender, message, metadata)
            except RasaUnreachable as exc:
                # A timeout or a 500 is not retried elsewhere: that process may still be
                # answering, and the customer must not get the turn twice.
                self._down_until[url] = time.monotonic() + self._down_seconds
                log.warning("Rasa %s unreachable, trying the next one: %s", url, exc)
                last = exc
                continue
            self._down_until.pop(url, None)
            return replies
        raise last or RasaUnavailable("no Rasa process")

    async def healthy(self) -> bool:
        for url in self.urls:
            if await self._clients[url].healthy():
                return True
        return False

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
