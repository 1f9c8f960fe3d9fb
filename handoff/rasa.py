"""The hub's port to the bot: Rasa's REST channel, behind a Protocol so tests can swap it."""

from __future__ import annotations

from typing import Any, Protocol

import httpx


class RasaUnavailable(Exception):
    """Rasa could not answer (down, timed out, 5xx, or not JSON)."""


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
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
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
