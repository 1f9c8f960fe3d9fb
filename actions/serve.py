"""`python -m actions.serve --port 5055`: the rasa-sdk action server plus GET /metrics.

The same server `python -m rasa_sdk --actions actions` starts (rasa-sdk's own app factory,
plugins and listeners), with one more route: Prometheus text of this process's action runs
and help-center search latency. With `CSKH_ACTIONS_METRICS_TOKEN` set the route wants
`Authorization: Bearer <token>`; without it, it is open (bind the server to a private
network: Rasa is its only other client).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from functools import partial
from typing import Any

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.worker.loader import AppLoader

from .telemetry import ACTION_METRICS


def create_app(executor: ActionExecutor, metrics_token: str | None) -> Sanic:
    """rasa-sdk's app for this executor, with /metrics (module level: Sanic pickles it)."""
    app = create_app_for_serve(executor)

    @app.get("/metrics")
    async def metrics(request: Any) -> Any:
        if metrics_token:
            scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), metrics_token.encode()
            ):
                return response.json({"error": "unauthorized"}, status=401)
        return response.text(
            ACTION_METRICS.render(), content_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    utils.update_sanic_log_level()
    executor = ActionExecutor()
    executor.register_package(args.actions)
    token = os.environ.get("CSKH_ACTIONS_METRICS_TOKEN") or None
    # Sanic's workers unpickle the factory by module name: name it as `actions.serve`, not
    # `__main__`, which a worker process does not have.
    from actions.serve import create_app as factory

    loader = AppLoader(factory=partial(factory, executor, token))
    app = loader.load()
    app.prepare(
        host=os.environ.get("SANIC_HOST", "0.0.0.0"),
        port=args.port,
        workers=utils.number_of_sanic_workers(),
    )
    Sanic.serve(primary=app, app_loader=loader)


if __name__ == "__main__":
    main()
