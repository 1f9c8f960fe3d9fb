"""What the action server counts, for GET /metrics (actions/serve.py)."""

from __future__ import annotations

from cskh.metrics import SEARCH_BUCKETS, Counter, Histogram, render


class ActionMetrics:
    def __init__(self) -> None:
        self.runs = Counter("cskh_actions_runs_total", "Custom action runs, by action and outcome.")
        self.search_seconds = Histogram(
            "cskh_actions_search_seconds",
            "One help-center search (embedding when needed, FAISS, ranking), by outcome "
            "(answer, choices, none).",
            SEARCH_BUCKETS,
        )

    def render(self) -> str:
        return render((self.runs, self.search_seconds))


# One per process: rasa-sdk instantiates actions itself, so they cannot be handed one.
ACTION_METRICS = ActionMetrics()
