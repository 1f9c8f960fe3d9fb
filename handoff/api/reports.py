"""Supervisor numbers: the stats view, the content gaps report and Prometheus metrics."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse

from ..core.hub import Hub, run_sync
from ..core.views import ContentGaps
from ..store import content_gaps
from .deps import HubDep, MetricsReader, Supervisor, errors

router = APIRouter()


@router.get("/api/console/stats", responses=errors(401, 403))
async def stats(agent: Supervisor, hub: HubDep) -> dict[str, Any]:
    return await hub.stats()


Days = Annotated[
    int,
    Query(
        ge=1,
        le=content_gaps.MAX_DAYS,
        description="The window: the last this many days.",
    ),
]
GapTable = Literal["articles", "questions"]


@router.get(
    "/api/console/content-gaps",
    response_model=ContentGaps,
    responses=errors(401, 403, 422),
)
async def content_gaps_report(
    agent: Supervisor, hub: HubDep, days: Days = content_gaps.DEFAULT_DAYS
) -> ContentGaps:
    """Per help-center article: answers given, "did this help?" yes/no and handoffs that
    followed; and the questions the bot could not answer, grouped by wording."""
    return await run_sync(_read_gaps, hub, days)


@router.get(
    "/api/console/content-gaps.csv",
    # Not response_class=PlainTextResponse: the JSON errors would be documented as CSV.
    response_class=Response,
    responses={
        200: {
            "description": "One table of the report as CSV (UTF-8 with a BOM, for Excel)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **errors(401, 403, 422),
    },
)
async def content_gaps_csv(
    agent: Supervisor,
    hub: HubDep,
    days: Days = content_gaps.DEFAULT_DAYS,
    table: Annotated[
        GapTable, Query(description="`articles` (default) or `questions`.")
    ] = "articles",
) -> Response:
    report = await run_sync(_read_gaps, hub, days)
    body = "\ufeff" + gaps_csv(report, table)
    filename = f"noi-dung-can-bo-sung-{table}-{days}-ngay.csv"
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _read_gaps(hub: Hub, days: int) -> ContentGaps:
    with hub.store.read() as s:
        return content_gaps.report(s, days)


ARTICLE_HEADER = (
    "Mã bài viết", "Tiêu đề", "Số lần trả lời", "Hữu ích", "Chưa hữu ích",
    "Chuyển người sau đó", "Liên kết", "Trả lời chưa chắc chắn",
)
QUESTION_HEADER = (
    "Số lần hỏi", "Số hội thoại", "Câu hỏi ví dụ", "Cách hỏi khác", "Lần hỏi gần nhất",
)


def gaps_csv(report: ContentGaps, table: GapTable) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    if table == "articles":
        writer.writerow(ARTICLE_HEADER)
        for a in report.articles:
            writer.writerow([
                _cell(a.article_id), _cell(a.title), a.answers, a.helpful, a.not_helpful,
                a.handoffs_after, _cell(a.url or ""), a.hedged_answers,
            ])
    else:
        writer.writerow(QUESTION_HEADER)
        for q in report.questions:
            writer.writerow([
                q.count, q.conversations, _cell(q.example), _cell(" | ".join(q.variants)),
                q.last_asked_at,
            ])
    return out.getvalue()


def _cell(text: str) -> str:
    # Customers write these texts: a spreadsheet would run one starting like a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


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
