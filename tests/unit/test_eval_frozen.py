"""The measuring code of the frozen sets (triage/evaluate.py, knowledge_base/evaluate.py).

Tiny hand-made inputs only: the frozen data's own numbers are reported, never asserted.
"""

from __future__ import annotations

import json
import math
import os
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from actions.faq import ArticleRef, FaqAnswer, FaqConfig
from knowledge_base.evaluate import (
    AnswerOutcome,
    Question,
    action_faq_config,
    answer_metrics,
    answer_outcome,
    build_temporary_kb,
    fact_key,
    load_questions,
    missing_facts,
    run_answer_eval,
    sent_text,
)
from knowledge_base.ingest import Passage
from knowledge_base.search import KnowledgeBase, SearchConfig
from triage.escalation import load_policy
from triage.evaluate import (
    ConversationOutcome,
    FrozenConversation,
    FrozenLine,
    LineOutcome,
    conversation_stats,
    conversations_per_kind,
    judge_line,
    kind_stats,
    load_conversations,
    load_frozen,
    non_angry_to_angry,
    per_kind,
    replay_conversation,
    score_predictions,
)
from triage.sentiment import Sentiment

ANGRY = Sentiment("negative", True, -0.8)
NEGATIVE = Sentiment("negative", False, -0.5)
NEUTRAL = Sentiment("neutral", False, 0.0)
POSITIVE = Sentiment("positive", False, 0.7)

# --------------------------------------------------------------------------------------------
# Facts in the sent reply


def test_facts_match_case_insensitively_but_diacritics_as_written() -> None:
    reply = "Soạn DK sv70 gửi 9123.\nĐổi trả trong 7 ngày."
    assert missing_facts(reply, ["dk SV70", "9123", "7 NGÀY"]) == []
    assert missing_facts(reply, ["7 ngay"]) == ["7 ngay"]  # no accent folding
    assert missing_facts("Đổi trả trong 7 ngày", ["đổi trả trong 7 ngày", "30 ngày"]) == [
        "30 ngày"
    ]


def test_fact_key_treats_line_breaks_and_unicode_forms_alike() -> None:
    decomposed = unicodedata.normalize("NFD", "phí 50.000đ")
    assert missing_facts(f"Thanh toán\n{decomposed}", ["toán phí 50.000đ"]) == []
    assert fact_key("  Gói  SV70\n") == "gói sv70"


def test_sent_text_of_a_choice_list_is_the_question_and_the_titles() -> None:
    refs = [ArticleRef("a", "Đổi trả", "u1", 0.5), ArticleRef("b", "Hoàn tiền", "u2", 0.49)]
    choices = FaqAnswer("choices", "Anh/chị chọn giúp em nhé.", "q", refs)
    assert sent_text(choices).splitlines() == ["Anh/chị chọn giúp em nhé.", "Đổi trả",
                                               "Hoàn tiền"]
    answer = FaqAnswer("answer", "Đổi trong 7 ngày.\n\nXem thêm: Đổi trả – u1", "q", refs[:1])
    assert sent_text(answer) == answer.text


def test_load_questions_reads_facts(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [
        {"question": "đổi trả bao lâu", "article": "doi-tra", "section": "S", "style": "short",
         "facts": ["7 ngày", ""]},
        {"question": "phí ship", "article": "ship", "section": "S"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    first, second = load_questions(path)
    assert first.facts == ("7 ngày",) and second.facts == ()
    path.write_text(json.dumps({**rows[1], "facts": "7 ngày"}), "utf-8")
    with pytest.raises(ValueError):
        load_questions(path)


def outcome(kind: str, right: bool, missing: Sequence[str] = (),
            picked: tuple[str, ...] | None = None) -> AnswerOutcome:
    return AnswerOutcome(kind, right, tuple(missing), picked)


def test_answer_metrics_counts_confident_choices_and_picks() -> None:
    m = answer_metrics([
        outcome("answer", True),                        # right, facts in
        outcome("answer", True, ["7 ngày"]),            # right article, fact trimmed away
        outcome("answer", False, ["7 ngày"]),           # confidently wrong
        outcome("choices", True, ["7 ngày"], picked=()),  # the picked title has it
        outcome("choices", True, ["7 ngày"], picked=("7 ngày",)),
        outcome("choices", False, ["7 ngày"]),          # right title not offered
        outcome("none", False, ["7 ngày"]),
        outcome("none", False, ["7 ngày"]),
    ])
    assert m.n == 8
    assert m.facts_in_reply == pytest.approx(1 / 8)
    assert m.confident == pytest.approx(3 / 8) and m.n_confident == 3
    assert m.confident_right == pytest.approx(2 / 3)
    assert m.choices == pytest.approx(3 / 8)
    assert m.choices_offering_right == pytest.approx(2 / 3)
    assert m.facts_after_pick == pytest.approx(2 / 8)
    # No answer here was followed by a "Chưa giúp được" offer holding the facts.
    assert m.facts_after_no == pytest.approx(1 / 8)


def test_facts_after_no_counts_the_offer_picked_after_chua_giup_duoc() -> None:
    m = answer_metrics([
        outcome("answer", True),  # facts in the first reply
        replace(outcome("answer", True, ["24 tháng"]), after_no_missing=()),  # next section
        replace(outcome("answer", True, ["24 tháng"]), after_no_missing=("24 tháng",)),
        outcome("answer", False, ["24 tháng"]),  # the right one not offered after "no"
    ])
    assert m.facts_after_no == pytest.approx(2 / 4)
    assert m.facts_after_pick == pytest.approx(1 / 4)


def test_answer_metrics_reply_length_counts_answers_only() -> None:
    answers = [replace(outcome("answer", True), reply_chars=n) for n in (100, 300, 900)]
    m = answer_metrics([*answers, outcome("choices", True, ["x"]), outcome("none", False)])
    assert (m.chars_p50, m.chars_p95) == (300, 900)


def test_answer_metrics_without_confident_answers_is_not_a_number() -> None:
    m = answer_metrics([outcome("none", False, ["x"])])
    assert m.facts_in_reply == 0.0 and m.confident == 0.0
    assert math.isnan(m.confident_right) and math.isnan(m.choices_offering_right)


@dataclass(frozen=True)
class FakeHit:
    article_id: str
    title: str
    url: str
    text: str
    score: float
    section: str = ""
    # The score once a query typed without marks is read as restored; None: the same.
    restored: float | None = None

    @property
    def score_as_restored(self) -> float:
        return self.score if self.restored is None else self.restored


class FakeKB:
    def __init__(self, hits: Sequence[FakeHit]) -> None:
        self.hits = list(hits)

    def search(
        self, query: str, top_k: int = 5, known_vectors: Mapping[str, Any] | None = None,
        context: str | None = None,
    ) -> list[FakeHit]:
        return self.hits[:top_k]

    def search_within(
        self, query: str, article_id: str, top_k: int = 1, context: str | None = None
    ) -> list[FakeHit]:
        return [h for h in self.hits if h.article_id == article_id][:top_k]


RETURNS = "Bạn được đổi trả trong 7 ngày kể từ khi nhận hàng. Hàng phải còn tem mác."
REFUNDS = "Tiền hoàn về tài khoản trong 3-5 ngày làm việc."
CONFIG = FaqConfig(confident_score=0.5, confident_score_no_diacritics=0.5,
                   min_relevant_score=0.2, ambiguity_margin=0.05, hedge_score=0.45)


def returns_question(facts: tuple[str, ...] = ("7 ngày",)) -> Question:
    return Question("đổi trả được mấy ngày", "doi-tra", "Thời hạn", "diacritics", facts)


def test_answer_outcome_runs_the_faq_logic_confident_hedged_and_choices() -> None:
    confident = FakeKB([FakeHit("doi-tra", "Đổi trả", "u1", RETURNS, 0.8),
                        FakeHit("hoan-tien", "Hoàn tiền", "u2", REFUNDS, 0.3)])
    got = answer_outcome(confident, returns_question(), CONFIG)
    # The whole passage and the "Xem thêm: Đổi trả – u1" line.
    assert got == AnswerOutcome("answer", True, (), None,
                                reply_chars=len(f"{RETURNS}\n\nXem thêm: Đổi trả – u1"))

    # Hedged: the answer comes from the (wrong) best article, the right one beside it.
    contested = FakeKB([FakeHit("hoan-tien", "Hoàn tiền", "u2", REFUNDS, 0.47),
                        FakeHit("doi-tra", "Đổi trả", "u1", RETURNS, 0.42)])
    got = answer_outcome(contested, returns_question(("7 ngày", "tem mác")), CONFIG)
    assert got.kind == "hedged" and not got.right_article
    assert got.missing == ("7 ngày", "tem mác")
    assert got.picked_missing == ()  # picking "Đổi trả" sends its short passage whole
    # Neck and neck (`hedged_article_margin`): the right article's passage follows.
    contested = FakeKB([FakeHit("hoan-tien", "Hoàn tiền", "u2", REFUNDS, 0.47),
                        FakeHit("doi-tra", "Đổi trả", "u1", RETURNS, 0.46)])
    got = answer_outcome(contested, returns_question(("7 ngày", "tem mác")), CONFIG)
    assert got.kind == "hedged" and not got.right_article and got.missing == ()

    weak = FakeKB([FakeHit("hoan-tien", "Hoàn tiền", "u2", REFUNDS, 0.40),
                   FakeHit("doi-tra", "Đổi trả", "u1", RETURNS, 0.39)])
    got = answer_outcome(weak, returns_question(("7 ngày",)), CONFIG)
    assert got.kind == "choices" and got.right_article and got.missing == ("7 ngày",)
    assert got.picked_missing == () and got.reply_chars == 0


def test_run_answer_eval_skips_questions_without_facts() -> None:
    kb = FakeKB([FakeHit("doi-tra", "Đổi trả", "u1", RETURNS, 0.8)])
    assert run_answer_eval(kb, [returns_question(())], CONFIG) == []
    results = run_answer_eval(kb, [returns_question(()), returns_question()], CONFIG)
    assert [name for name, _ in results] == ["all", "diacritics"]
    assert results[0][1].n == 1 and results[0][1].facts_in_reply == 1.0


def test_action_faq_config_follows_the_action_server_settings(monkeypatch) -> None:
    for name in [n for n in os.environ if n.upper().startswith("CSKH_ACTIONS_")]:
        monkeypatch.delenv(name)
    assert action_faq_config() == FaqConfig()  # the settings' defaults are FaqConfig's
    monkeypatch.setenv("CSKH_ACTIONS_CONFIDENT_SCORE", "0.61")
    assert action_faq_config().confident_score == pytest.approx(0.61)


class HashEmbedder:
    """Deterministic bag-of-words vectors: fast, and the same for queries and passages."""

    name = "hash-test"
    dim = 64

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, zlib.crc32(word.encode()) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str], progress: Any = None) -> np.ndarray:
        return self._embed(texts)


def test_temporary_kb_uses_the_reference_embedder_and_search_settings(
    articles_dir: Path,
) -> None:
    embedder = HashEmbedder()
    config = SearchConfig(dense_weight=0.3)
    shop = KnowledgeBase.from_passages(
        [Passage("x", "X", "S", "https://x", "", "văn bản")], embedder, config
    )
    kb, report = build_temporary_kb(articles_dir, shop)
    assert report.articles == 3 and len(kb.passages) == report.passages
    assert kb.embedder is embedder and kb.config is config
    assert kb.search("đổi trả trong bao lâu", top_k=1)[0].article_id == "doi-tra"


# --------------------------------------------------------------------------------------------
# Sentiment lines: the hub's decision on one message, per kind


def test_judge_line_uses_the_hub_decision() -> None:
    policy = load_policy()
    angry = judge_line(FrozenLine("làm ăn kiểu gì vậy", "angry", "k"), ANGRY, policy)
    assert angry == LineOutcome("angry", "k", "angry", True, True)
    # Flagged angry but a positive polarity: the angry rule (score <= max_score) holds back.
    mild = judge_line(FrozenLine("x", "negative", "k"), Sentiment("negative", True, 0.2), policy)
    assert mild.predicted == "angry" and not mild.hub_angry and not mild.escalated
    # A neutral request for a person escalates, but not as "predicted angry".
    asks = judge_line(FrozenLine("cho mình gặp nhân viên", "neutral", "k"), NEUTRAL, policy)
    assert asks.escalated and not asks.hub_angry


def line(label: str, kind: str, predicted: str, hub_angry: bool,
         escalated: bool | None = None) -> LineOutcome:
    return LineOutcome(label, kind, predicted, hub_angry,
                       hub_angry if escalated is None else escalated)


def test_kind_stats_and_per_kind() -> None:
    outcomes = [
        line("angry", "sarcasm", "angry", True),
        line("angry", "sarcasm", "negative", False, escalated=True),  # caught by another rule
        line("angry", "sarcasm", "neutral", False),
        line("neutral", "sarcasm", "neutral", False),
        line("neutral", "caps", "angry", True),  # a false escalation
        line("positive", "caps", "positive", False),
        line("negative", "caps", "neutral", False, escalated=True),
    ]
    caps, sarcasm = per_kind(outcomes)  # sorted by name
    assert (caps.kind, sarcasm.kind) == ("caps", "sarcasm")
    assert (sarcasm.n, sarcasm.n_angry, sarcasm.n_calm) == (4, 3, 1)
    assert sarcasm.accuracy == pytest.approx(2 / 4)
    assert sarcasm.angry_recall == pytest.approx(1 / 3)
    assert sarcasm.angry_escalated == pytest.approx(2 / 3)
    assert sarcasm.false_escalation == 0.0
    assert (caps.n, caps.n_angry, caps.n_calm) == (3, 0, 3)
    assert math.isnan(caps.angry_recall)
    assert caps.false_escalation == pytest.approx(1 / 3)
    assert caps.calm_escalated == pytest.approx(2 / 3)
    overall = kind_stats("all", outcomes)
    assert overall.angry_recall == pytest.approx(1 / 3)
    assert overall.false_escalation == pytest.approx(1 / 4)


def test_non_angry_to_angry_from_the_confusion_matrix() -> None:
    truth = ["angry", "angry", "negative", "neutral", "neutral", "positive"]
    predicted = ["angry", "negative", "angry", "neutral", "neutral", "positive"]
    result = score_predictions(["t"] * 6, truth, predicted, [1.0] * 6)
    assert result.angry_recall == pytest.approx(0.5)
    assert non_angry_to_angry(result) == pytest.approx(1 / 4)


def test_loaders_reject_malformed_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"text": "a", "label": "angry", "kind": "burst"}\n\n', "utf-8")
    assert load_frozen(path) == [FrozenLine("a", "angry", "burst")]
    path.write_text('{"text": "a", "label": "furious", "kind": "burst"}\n', "utf-8")
    with pytest.raises(ValueError, match="furious"):
        load_frozen(path)
    conv = tmp_path / "c.jsonl"
    row = {"id": "c1", "turns": ["a", "b"], "should_reach_person": True, "kind": "k"}
    conv.write_text(json.dumps(row), "utf-8")
    assert load_conversations(conv) == [FrozenConversation("c1", ("a", "b"), True, "k")]
    conv.write_text(json.dumps({**row, "should_reach_person": "yes"}), "utf-8")
    with pytest.raises(ValueError):
        load_conversations(conv)


# --------------------------------------------------------------------------------------------
# Conversations: the hub's decision replayed turn by turn


def conversation(*turns: str, should: bool = True, kind: str = "k") -> FrozenConversation:
    return FrozenConversation("c", tuple(turns), should, kind)


def test_replay_escalates_on_three_negative_turns_in_a_row() -> None:
    got = replay_conversation(conversation("hàng lỗi", "vẫn lỗi", "lỗi nữa"), [NEGATIVE] * 3)
    assert got.reached and got.turn == 3 and got.reasons[0] == "negative_trend"
    # Each turn alone only negative, and two of them: nobody is called.
    got = replay_conversation(conversation("hàng lỗi", "vẫn lỗi"), [NEGATIVE] * 2)
    assert not got.reached and got.turn is None and got.reasons == ()


def test_replay_stops_at_the_first_escalation() -> None:
    got = replay_conversation(
        conversation("đơn giao chưa", "làm ăn như vậy hả", "cảm ơn"), [NEUTRAL, ANGRY, POSITIVE]
    )
    assert (got.reached, got.turn, got.reasons) == (True, 2, ("angry",))


def test_replay_of_calm_questions_does_not_reach_a_person() -> None:
    got = replay_conversation(
        conversation("pin dùng bao lâu", "sạc mấy tiếng", should=False), [NEUTRAL, NEUTRAL]
    )
    assert not got.reached and not got.should_reach_person


def conv_outcome(kind: str, should: bool, reached: bool,
                 reasons: tuple[str, ...] = ()) -> ConversationOutcome:
    return ConversationOutcome("c", kind, should, reached, 1 if reached else None, reasons)


def test_conversation_stats_per_kind() -> None:
    outcomes = [
        conv_outcome("repeat", True, True, ("negative_trend",)),
        conv_outcome("repeat", True, False),
        conv_outcome("repeat", True, True, ("angry", "vip")),
        conv_outcome("calm", False, False),
        conv_outcome("calm", False, True, ("complex",)),
        conv_outcome("angry", True, True, ("angry",)),
    ]
    overall = conversation_stats("all", outcomes)
    assert (overall.should, overall.should_reached) == (4, 3)
    assert (overall.should_not, overall.should_not_reached) == (2, 1)
    assert overall.reach_rate == pytest.approx(3 / 4)
    assert overall.false_reach_rate == pytest.approx(1 / 2)
    assert overall.lead_reasons == {"angry": 2, "complex": 1, "negative_trend": 1}
    rows = conversations_per_kind(outcomes)
    assert [r.kind for r in rows] == ["angry", "repeat", "calm"]  # should-reach kinds first
    repeat = rows[1]
    assert repeat.reach_rate == pytest.approx(2 / 3) and math.isnan(repeat.false_reach_rate)
