"""`python -m handoff`: run the conversation hub with uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn

from .settings import ConfigError, HubSettings


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = HubSettings()
    except (ConfigError, ValueError) as exc:
        # Fail fast with one readable line (e.g. production without a secret key).
        print(f"handoff: configuration error: {exc}", file=sys.stderr)
        return 2
    from .app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        # The hub keeps presence and per-conversation locks in memory: one worker process.
        workers=1,
        proxy_headers=True,
        log_level="info",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
