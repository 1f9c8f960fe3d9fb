"""Supervisor numbers: the stats view and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from .deps import HubDep, MetricsReader, Supervisor, errors

router = APIRouter()


@router.get("/api/console/stats", responses=errors(401, 403))
async def stats(agent: Supervisor, hub: HubDep) -> dict[str, Any]:
    return await hub.stats()


@router.get(
    "/metrics",
    # Not response_class=PlainTextResponse: FastAPI would then document the JSON errors
    # as text/plain too.
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **errors(401, 403),
    },
)
async def metrics(reader: MetricsReader, hub: HubDep) -> PlainTextResponse:
    return PlainTextResponse(prometheus_text(await hub.stats()) + hub.metrics.render())


def prometheus_text(data: dict[str, Any]) -> str:
    day = data["last_24h"]
    states = data["states"].items()
    lines = [f'cskh_hub_conversations{{state="{state}"}} {n}' for state, n in states]
    lines += [
        f"cskh_hub_agents_online {data['agents_online']}",
        f"cskh_hub_handoffs_24h {day['handoffs']}",
        f"cskh_hub_sla_first_response_breaches_24h {day['sla_first_response_breaches']}",
        f"cskh_hub_sla_resolution_breaches_24h {day['sla_resolution_breaches']}",
        f"cskh_hub_conversations_24h {day['conversations']}",
        f"cskh_hub_contained_24h {day['contained']}",
    ]
    lines += [f'cskh_hub_outbox{{status="{k}"}} {n}' for k, n in data["outbox"].items()]
    if day["containment_rate"] is not None:
        lines.append(f"cskh_hub_containment_rate_24h {day['containment_rate']}")
    if day["csat_avg"] is not None:
        lines.append(f"cskh_hub_csat_avg_24h {day['csat_avg']}")
    return "\n".join(lines) + "\n"
