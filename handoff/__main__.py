"""`python -m handoff`: run the conversation hub with uvicorn."""

from __future__ import annotations

import sys

import uvicorn

from .settings import ConfigError, HubSettings


def main() -> int:
    try:
        settings = HubSettings()
    except (ConfigError, ValueError) as exc:
        # Fail fast with one readable line (e.g. production without a secret key).
        print(f"handoff: configuration error: {exc}", file=sys.stderr)
        return 2
    from . import logs
    from .app import create_app

    logs.configure(settings.log_format)

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        # One process per replica: run more replicas (with Redis and PostgreSQL, see
        # docs/deploy.md), not more workers, so each has its own socket.io sessions.
        workers=1,
        proxy_headers=True,
        log_level="info",
        log_config=None,  # uvicorn's records go through logs.configure's handler
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
