"""FAQ logic (actions/faq.py): sentence extraction and the answer / choices / none decision."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from actions.faq import (
    NO_ANSWER_TEXT,
    NOT_HELPFUL_TEXT,
    FaqConfig,
    answer_article,
    answer_question,
    answers_out_of_scope,
    extract_answer,
    next_best,
    split_sentences,
)
from cskh.text import tokens

SHIPPING = (
    "Sao Mai Shop giao hàng toàn quốc qua Giao Hàng Nhanh và Viettel Post. "
    "Phí giao hàng nội thành là 20.000đ, đi tỉnh là 35.000đ. "
    "Đơn từ 500.000đ được miễn phí giao hàng. "
    "Khách hàng có thể theo dõi đơn trong mục Đơn hàng của tôi."
)
RETURNS = (
    "Bạn được đổi trả trong 7 ngày kể từ khi nhận hàng. "
    "Sản phẩm đổi trả phải còn nguyên tem mác và hóa đơn. "
    "Tiền hoàn được chuyển về tài khoản trong 3-5 ngày làm việc."
)


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
    """Returns fixed hits, so the decision thresholds are tested exactly."""

    embedder = SimpleNamespace(name="fake-e5", dim=2)

    def __init__(
        self, hits: Sequence[FakeHit], alone: Mapping[str, float] | None = None
    ) -> None:
        self.hits = list(hits)
        # Section -> score searched without the question before (default: the same).
        self.alone = alone or {}
        self.queries: list[str] = []
        self.known_vectors: list[Mapping[str, Any] | None] = []
        self.contexts: list[str | None] = []  # the question before, per search

    def search(
        self, query: str, top_k: int = 5, known_vectors: Mapping[str, Any] | None = None,
        context: str | None = None,
    ) -> list[FakeHit]:
        self.queries.append(query)
        self.known_vectors.append(known_vectors)
        self.contexts.append(context)
        return self.hits[:top_k]

    def search_within(
        self, query: str, article_id: str, top_k: int = 1, context: str | None = None
    ) -> list[FakeHit]:
        self.contexts.append(context)
        within = [h for h in self.hits if h.article_id == article_id]
        if context is None and self.alone:
            within = sorted(
                (replace(h, score=self.alone.get(h.section, h.score)) for h in within),
                key=lambda h: -h.score,
            )
        return within[:top_k]


def hit(article: str, score: float, text: str = SHIPPING, section: str = "") -> FakeHit:
    url = f"https://saomaishop.vn/ho-tro/{article}"
    return FakeHit(article, f"Bài {article}", url, text, score, section)


# With a band (0.25-0.45) where only a list of titles is offered.
CONFIG = FaqConfig(confident_score=0.45, confident_score_no_diacritics=0.45,
                   min_relevant_score=0.25, ambiguity_margin=0.04, hedge_score=0.45)


def test_split_sentences_keeps_list_items_whole_and_strips_markdown() -> None:
    text = "## Cách đặt\nBạn làm như sau:\n1. Bấm **Thêm vào giỏ**.\n2. Bấm Thanh toán. Xong."
    assert split_sentences(text) == [
        "Bạn làm như sau:",
        "1. Bấm Thêm vào giỏ.",
        "2. Bấm Thanh toán. Xong.",
    ]


@pytest.mark.parametrize("query", ["phí giao hàng đi tỉnh bao nhiêu", "phi giao hang di tinh"])
def test_extract_answer_picks_the_sentence_that_answers(query: str) -> None:
    answer = extract_answer(query, SHIPPING, max_chars=150)
    assert "35.000đ" in answer
    assert "theo dõi đơn" not in answer  # unrelated sentence dropped


def test_a_passage_that_fits_is_sent_whole() -> None:
    assert extract_answer("phí giao hàng đi tỉnh", SHIPPING, max_chars=600) == "\n".join(
        split_sentences(SHIPPING)
    )


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        # Each sentence shares "đổi trả"; the question word says which one answers.
        ("đổi trả trong bao lâu", "7 ngày"),
        ("doi tra mat bao lau", "7 ngày"),
        ("đổi trả tốn bao nhiêu tiền", "50.000đ"),
        ("đổi trả thì gọi số nào", "1900 6868"),
    ],
)
def test_extract_answer_prefers_the_sentence_with_the_kind_of_fact_asked(
    query: str, wanted: str
) -> None:
    sentences = [
        "Khi đổi trả, bạn gửi kèm hóa đơn và phụ kiện trong hộp.",
        "Đổi trả vì lý do cá nhân thu phí 50.000đ.",
        "Bạn được đổi trả trong 7 ngày kể từ khi nhận.",
        "Cần hỗ trợ đổi trả, bạn gọi 1900 6868.",
    ]
    answer = extract_answer(query, " ".join(sentences), max_chars=60)
    assert answer in sentences and wanted in answer


def test_extract_answer_keeps_original_order_and_cap() -> None:
    answer = extract_answer("miễn phí giao hàng phí nội thành", SHIPPING, max_chars=600)
    assert answer.index("20.000đ") < answer.index("500.000đ")
    long_passage = " ".join(f"Câu số {i} nói về phí giao hàng." for i in range(100))
    assert len(extract_answer("phí giao hàng", long_passage, max_chars=200)) <= 200


def test_extract_answer_brings_the_list_a_sentence_introduces() -> None:
    passage = "Để hủy đơn, bạn làm như sau:\n1. Mở Đơn hàng của tôi.\n2. Bấm Hủy đơn.\nHết."
    answer = extract_answer("hủy đơn thế nào", passage)
    assert "1. Mở Đơn hàng của tôi." in answer and "2. Bấm Hủy đơn." in answer


def test_confident_answer_cites_the_article() -> None:
    kb = FakeKB([hit("phi-giao-hang", 0.7), hit("doi-tra", 0.3, RETURNS)])
    answer = answer_question(kb, "phí ship đi tỉnh bao nhiêu", CONFIG)
    assert answer.kind == "answer"
    assert "35.000đ" in answer.text
    assert answer.text.endswith(
        "Xem thêm: Bài phi-giao-hang – https://saomaishop.vn/ho-tro/phi-giao-hang"
    )
    meta = answer.meta()
    assert meta["kind"] == "faq_answer" and meta["confident"] is True
    assert [a["id"] for a in meta["articles"]] == ["phi-giao-hang"]
    assert meta["query"] == "phí ship đi tỉnh bao nhiêu"


def test_an_answer_that_matched_only_by_another_spelling_is_not_confident() -> None:
    # "doi hang duoc ko shop" read as "đổi hàng" (goods) no longer clears the bar that its
    # folded words, also "đổi hạng" (membership tiers), cleared: hedged, others offered.
    tiers = replace(hit("hang-thanh-vien", 0.56), restored=0.39)
    answer = answer_question(FakeKB([tiers, hit("doi-tra", 0.45, RETURNS)]),
                             "doi hang duoc ko shop", CONFIG)
    assert answer.kind == "answer" and answer.hedged and not answer.confident
    # Read as restored, the returns passage leads and the tiers are offered beside it.
    assert "7 ngày" in answer.text and "Bài doi-tra" in answer.text
    assert [a.id for a in answer.alternatives] == ["hang-thanh-vien"]
    # Read either way above the bar: confident.
    agrees = replace(hit("hang-thanh-vien", 0.56), restored=0.50)
    answer = answer_question(FakeKB([agrees, hit("doi-tra", 0.45, RETURNS)]),
                             "doi hang duoc ko shop", CONFIG)
    assert answer.confident


def test_weak_best_hit_offers_distinct_titles() -> None:
    kb = FakeKB([hit("a", 0.40), hit("a", 0.38), hit("b", 0.35), hit("c", 0.30), hit("d", 0.27)])
    answer = answer_question(kb, "cái này sao", CONFIG)
    assert answer.kind == "choices"
    assert [a.id for a in answer.articles] == ["a", "b", "c"]  # distinct, best first, max 3
    assert answer.meta()["kind"] == "faq_choices" and answer.meta()["confident"] is False


def test_two_articles_neck_and_neck_get_a_hedged_answer() -> None:
    # The likely answer is sent, with the other article offered beside it, not as a
    # confident answer.
    kb = FakeKB([hit("a", 0.80), hit("b", 0.78, RETURNS)])
    apart = replace(CONFIG, hedged_article_margin=0.01)
    answer = answer_question(kb, "phí ship đi tỉnh", apart)
    assert answer.kind == "answer" and answer.hedged and not answer.confident
    assert "35.000đ" in answer.text and "7 ngày" not in answer.text
    assert [a.id for a in answer.alternatives] == ["b"]
    meta = answer.meta()
    assert meta["kind"] == "faq_answer" and meta["confident"] is False
    assert [a["id"] for a in meta["articles"]] == ["a", "b"] and "borrowed" not in meta
    # Within `hedged_article_margin` the runner-up's passage follows, under its title.
    answer = answer_question(kb, "phí ship đi tỉnh", CONFIG)
    assert answer.hedged and answer.text.index("35.000đ") < answer.text.index("Bài b:\n")
    assert "7 ngày" in answer.text and answer.text.count("Xem thêm:") == 1
    assert answer.borrowed == (("b", ""),) and answer.passages == [("a", ""), ("b", "")]
    assert answer.meta()["borrowed"] == [{"id": "b", "section": ""}]
    assert [a.id for a in answer.alternatives] == ["b"]
    kb = FakeKB([hit("a", 0.80), hit("a", 0.79), hit("b", 0.60)])  # same article twice is fine
    answer = answer_question(kb, "q", CONFIG)
    assert answer.confident and answer.alternatives == []


def test_a_plausible_but_unsure_best_hit_is_hedged_a_weak_one_is_a_choice_list() -> None:
    config = FaqConfig(confident_score=0.6, confident_score_no_diacritics=0.6,
                       min_relevant_score=0.3, hedge_score=0.45, max_alternatives=2)
    hits = [hit("a", 0.50), hit("b", 0.40), hit("c", 0.35), hit("d", 0.32)]
    answer = answer_question(FakeKB(hits), "phí ship", config)
    assert answer.hedged and [a.id for a in answer.articles] == ["a", "b", "c"]
    weak = [replace(h, score=h.score - 0.1) for h in hits]
    answer = answer_question(FakeKB(weak), "phí ship", config)
    assert answer.kind == "choices" and not answer.hedged


def test_a_close_second_section_of_the_same_article_is_sent_under_its_heading() -> None:
    config = FaqConfig(confident_score=0.45, min_relevant_score=0.25, section_margin=0.03)
    kb = FakeKB([
        hit("doi-tra", 0.70, SHIPPING, "Phí gửi trả"),
        hit("doi-tra", 0.68, RETURNS, "Thời hạn đổi trả"),
        hit("khac", 0.30),
    ])
    answer = answer_question(kb, "đổi trả", config)
    assert answer.confident
    assert "Phí gửi trả:" in answer.text and "Thời hạn đổi trả:\n" in answer.text
    assert answer.text.index("Phí gửi trả:") < answer.text.index("Thời hạn đổi trả:")
    far = FakeKB([hit("doi-tra", 0.70, SHIPPING, "Phí"), hit("doi-tra", 0.60, RETURNS, "Hạn")])
    text = answer_question(far, "đổi trả", config).text
    assert "7 ngày" not in text and "Phí:" not in text


def test_a_hedged_answer_takes_a_second_section_from_further_down() -> None:
    """Unsure of the passage, the reply also carries a neighbouring section 0.06 below the
    best; a confident answer keeps to `section_margin`."""
    hits = [
        hit("doi-tra", 0.70, SHIPPING, "Phí gửi trả"),
        hit("doi-tra", 0.64, RETURNS, "Thời hạn đổi trả"),
        hit("khac", 0.30),
    ]
    unsure = FaqConfig(confident_score=0.8, confident_score_no_diacritics=0.8,
                       min_relevant_score=0.25, section_margin=0.03, hedged_section_margin=0.08)
    answer = answer_question(FakeKB(hits), "đổi trả", unsure)
    assert answer.hedged and "Phí gửi trả:" in answer.text and "7 ngày" in answer.text
    assert answer.sections == ("Phí gửi trả", "Thời hạn đổi trả")
    sure = replace(unsure, confident_score=0.45)
    answer = answer_question(FakeKB(hits), "đổi trả", sure)
    assert answer.confident and "7 ngày" not in answer.text
    narrow = replace(unsure, hedged_section_margin=0.03)
    assert "7 ngày" not in answer_question(FakeKB(hits), "đổi trả", narrow).text


def test_out_of_scope_is_answered_only_by_a_sure_and_strong_match() -> None:
    """NLU calls "mình chuyển khoản nhầm nội dung rồi" out of scope; the help center answers
    it (0.77). "phim nào hay" also clears the confident bar (0.65) and must not be answered."""
    config = replace(CONFIG, out_of_scope_score=0.70)
    strong = answer_question(FakeKB([hit("ck", 0.77), hit("khac", 0.30)]), "ck nhầm", config)
    assert strong.confident and answers_out_of_scope(strong, config)
    weaker = answer_question(FakeKB([hit("lien-he", 0.65), hit("khac", 0.30)]), "phim", config)
    assert weaker.confident and not answers_out_of_scope(weaker, config)
    contested = answer_question(FakeKB([hit("a", 0.77), hit("b", 0.75)]), "ck nhầm", config)
    assert not contested.confident and not answers_out_of_scope(contested, config)


def opening(article: str, score: float, text: str) -> FakeHit:
    """The text before an article's first heading: its section is the article's title."""
    return FakeHit(article, f"Bài {article}", f"https://e.vn/{article}", text, score,
                   f"Bài {article}")


def test_an_article_opening_that_wins_is_followed_by_the_articles_best_section() -> None:
    """"bị trừ tiền 2 lần" matched the opening ("Bài viết này giúp bạn ... bị trừ tiền hai
    lần") on every word and the customer got no step; the best section now follows it."""
    intro = "Bài viết này giúp bạn biết cần làm gì khi bị trừ tiền hai lần."
    config = FaqConfig(confident_score=0.45, min_relevant_score=0.25, section_margin=0.03)
    kb = FakeKB([
        opening("loi-tt", 0.70, intro),
        hit("khac", 0.40),
        hit("loi-tt", 0.50, RETURNS, "Bị trừ tiền hai lần"),
    ])
    answer = answer_question(kb, "bị trừ tiền 2 lần", config)
    assert answer.confident and answer.text.startswith(intro)
    assert "Bị trừ tiền hai lần:\n" in answer.text and "7 ngày" in answer.text
    # Not among the hits: the article's sections are searched; an article that is all
    # opening is sent as it is.
    kb = FakeKB([opening("loi-tt", 0.70, intro), hit("khac", 0.40)])
    kb.search_within = lambda q, a, top_k=1, context=None: [  # type: ignore[method-assign]
        opening("loi-tt", 0.70, intro), hit("loi-tt", 0.2, RETURNS, "Hoàn tiền")][:top_k]
    assert "Hoàn tiền:\n" in answer_question(kb, "bị trừ tiền 2 lần", config).text
    alone = FakeKB([opening("loi-tt", 0.70, intro), hit("khac", 0.40)])
    assert answer_question(alone, "bị trừ tiền 2 lần", config).text.split("\n\n")[0] == intro


def test_a_hedged_answer_below_the_weak_score_is_marked_weak_in_its_meta() -> None:
    config = FaqConfig(confident_score=0.55, min_relevant_score=0.30, hedge_score=0.30,
                       weak_score=0.40)
    guess = answer_question(FakeKB([hit("a", 0.35), hit("b", 0.20)]), "phí ship", config)
    assert guess.hedged and guess.weak and guess.meta()["weak"] is True
    unsure = answer_question(FakeKB([hit("a", 0.45), hit("b", 0.20)]), "phí ship", config)
    assert unsure.hedged and not unsure.weak and "weak" not in unsure.meta()
    sure = answer_question(FakeKB([hit("a", 0.70), hit("b", 0.20)]), "phí ship", config)
    assert sure.confident and "weak" not in sure.meta()


def test_queries_without_diacritics_have_their_own_bar() -> None:
    config = FaqConfig(confident_score=0.6, confident_score_no_diacritics=0.45)
    kb = FakeKB([hit("phi-giao-hang", 0.5)])
    assert not answer_question(kb, "phí giao hàng", config).confident
    assert answer_question(kb, "phi giao hang", config).confident


def test_by_default_every_relevant_unsure_answer_is_hedged_never_a_bare_title_list() -> None:
    config = FaqConfig()
    kb = FakeKB([hit("a", config.min_relevant_score), hit("b", config.min_relevant_score - 0.01)])
    answer = answer_question(kb, "phí ship", config)
    assert answer.kind == "answer" and answer.hedged and answer.alternatives == []
    assert answer.meta()["confident"] is False
    below = FakeKB([hit("a", config.min_relevant_score - 0.01)])
    assert answer_question(below, "phí ship", config).kind == "none"


def test_nothing_relevant_says_so() -> None:
    answer = answer_question(FakeKB([hit("a", 0.1)]), "thời tiết hôm nay", CONFIG)
    assert answer.kind == "none" and answer.text == NO_ANSWER_TEXT
    assert answer.meta() == {
        "kind": "faq_choices", "confident": False, "articles": [], "query": "thời tiết hôm nay"
    }
    kb = FakeKB([hit("a", 0.9)])
    assert answer_question(kb, "   ", CONFIG).kind == "none" and kb.queries == []


def test_answer_article_uses_the_chosen_article() -> None:
    kb = FakeKB([hit("phi-giao-hang", 0.3), hit("doi-tra", 0.2, RETURNS)])
    answer = answer_article(kb, "doi-tra", "đổi trả trong bao nhiêu ngày", CONFIG)
    assert answer.kind == "answer" and "7 ngày" in answer.text
    assert answer.articles[0].id == "doi-tra"
    assert answer_article(kb, "khong-co", "x", CONFIG).kind == "none"


class HashingEmbedder:
    """A deterministic bag-of-folded-words embedder implementing the Embedder protocol."""

    name = "test-hashing"
    dim = 256

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokens(text):
                out[row, zlib.crc32(token.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str], progress: object = None) -> np.ndarray:
        return self._embed(texts)


def test_with_the_real_knowledge_base_search() -> None:
    search = pytest.importorskip("knowledge_base.search")
    ingest = pytest.importorskip("knowledge_base.ingest")
    passages = [
        ingest.Passage("phi-giao-hang", "Phí giao hàng", "Phí", "https://x/phi", "Giao hàng",
                       SHIPPING),
        ingest.Passage("doi-tra", "Chính sách đổi trả", "Đổi trả", "https://x/doi-tra",
                       "Đổi trả", RETURNS),
    ]
    kb = search.KnowledgeBase.from_passages(passages, HashingEmbedder())
    config = FaqConfig(confident_score=0.3, confident_score_no_diacritics=0.3,
                       min_relevant_score=0.1, ambiguity_margin=0.04)
    for query in ("đổi trả trong mấy ngày", "doi tra trong may ngay"):
        answer = answer_question(kb, query, config)
        assert answer.kind == "answer", (query, answer)
        assert answer.articles[0].url == "https://x/doi-tra"
        assert "7 ngày" in answer.text


def test_a_numbered_list_is_never_cut_in_the_middle() -> None:
    from actions.faq import extract_answer

    passage = (
        "Bạn làm theo các bước sau:\n"
        "1. Mở trang đăng nhập và bấm Quên mật khẩu.\n"
        "2. Nhập số điện thoại đã đăng ký.\n"
        "3. Nhập mã OTP gửi qua tin nhắn.\n"
        "4. Đặt mật khẩu mới gồm ít nhất 8 ký tự.\n"
        "Phí giao hàng nội thành là 20.000đ."
    )
    answer = extract_answer("quen mat khau thi lam sao", passage, max_chars=120)
    lines = answer.splitlines()
    assert [line[:2] for line in lines[1:5]] == ["1.", "2.", "3.", "4."], answer
    assert lines[0].endswith(":") and "20.000đ" not in answer


def test_a_bulleted_list_comes_whole_or_not_at_all() -> None:
    from actions.faq import extract_answer

    passage = (
        "Phí giao hàng tiêu chuẩn:\n"
        "- Nội thành Hà Nội: 20.000đ.\n"
        "- Ngoại thành: 30.000đ.\n"
        "- Tỉnh khác: 35.000đ.\n"
        "Đơn từ 500.000đ được miễn phí giao hàng."
    )
    answer = extract_answer("phi ship ngoai thanh bao nhieu", passage, max_chars=600)
    assert all(part in answer for part in ("20.000đ", "30.000đ", "35.000đ"))


def test_not_helpful_offers_the_next_relevant_articles_without_the_one_given() -> None:
    kb = FakeKB([hit("phi-giao-hang", 0.7), hit("doi-tra", 0.5), hit("bao-hanh", 0.4),
                 hit("phi-giao-hang", 0.6), hit("xa", 0.1)])
    answer = next_best(kb, "phí ship đi tỉnh", {"phi-giao-hang"}, CONFIG)
    assert answer.kind == "choices" and kb.queries == ["phí ship đi tỉnh"]
    assert [a.id for a in answer.articles] == ["doi-tra", "bao-hanh"]  # "xa" is not relevant
    assert "hỏi lại" in answer.text and "Gặp nhân viên" in answer.text


def test_not_helpful_with_nothing_else_relevant_offers_rephrasing_or_a_person() -> None:
    kb = FakeKB([hit("phi-giao-hang", 0.7), hit("xa", 0.1)])
    answer = next_best(kb, "phí ship đi tỉnh", {"phi-giao-hang"}, CONFIG)
    assert answer.kind == "none" and answer.articles == []
    assert answer.text == NOT_HELPFUL_TEXT
    assert next_best(kb, "  ", set(), CONFIG).kind == "none"  # no question to search again


def test_a_follow_up_carries_the_question_before_to_the_search_and_the_meta() -> None:
    kb = FakeKB([hit("phi-giao-hang", 0.7)])
    answer = answer_question(kb, "bao lâu", CONFIG, context="  phí ship đi tỉnh ")
    assert kb.contexts[0] == "phí ship đi tỉnh"
    assert answer.meta()["context"] == "phí ship đi tỉnh" and answer.meta()["query"] == "bao lâu"
    alone = answer_question(kb, "phí ship đi tỉnh", CONFIG)
    assert kb.contexts[-1] is None and "context" not in alone.meta()
    # Nothing relevant even with the context: the honest "not found" still says what was used.
    none = answer_question(FakeKB([]), "bao lâu", CONFIG, context="phí ship")
    assert none.kind == "none" and none.meta()["context"] == "phí ship"


FREE_INSTALL = "Công lắp đặt cơ bản được miễn phí cho tivi, máy giặt và điều hòa."
COPPER_PIPE = "Ống đồng cho máy 1–1.5 HP giá 180.000đ/mét, dây điện 20.000đ/mét."


def test_a_follow_up_does_not_send_again_the_passage_just_sent_when_it_asks_for_another(
) -> None:
    """After the free-installation section, "ống đồng tính tiền sao" ranks it first again
    (the question before counts); the message alone prefers the pipe prices: only those."""
    config = FaqConfig(confident_score=0.45, min_relevant_score=0.25, section_margin=0.05)
    hits = [hit("lap-dat", 0.70, FREE_INSTALL, "Miễn phí"),
            hit("lap-dat", 0.68, COPPER_PIPE, "Vật tư")]
    shown = [("lap-dat", "Miễn phí")]
    kb = FakeKB(hits, alone={"Miễn phí": 0.40, "Vật tư": 0.55})
    answer = answer_question(kb, "ống đồng tính tiền sao", config, context="lắp máy lạnh "
                             "có miễn phí không", shown=shown)
    assert "180.000đ" in answer.text and "miễn phí cho tivi" not in answer.text
    assert answer.sections == ("Vật tư",)
    # Nothing was sent before, or it was another passage: both sections, as before.
    for before in ([], [("lap-dat", "Vật tư")], [("khac", "Miễn phí")]):
        again = answer_question(kb, "ống đồng tính tiền sao", config, context="lắp máy lạnh",
                                shown=before)
        assert again.sections == ("Miễn phí", "Vật tư")
    # The message alone still prefers what was sent: its answer is there, send it again.
    same = FakeKB(hits, alone={"Miễn phí": 0.60, "Vật tư": 0.55})
    assert answer_question(same, "có mất phí không", config, context="lắp máy lạnh",
                           shown=shown).sections == ("Miễn phí", "Vật tư")
    # "còn X thì sao?" asks the question before again: its passage may hold the answer.
    assert answer_question(kb, "còn tivi thì sao", config, context="lắp máy lạnh",
                           shown=shown).sections == ("Miễn phí", "Vật tư")


def test_a_follow_up_skips_an_article_opening_it_just_sent() -> None:
    config = FaqConfig(confident_score=0.45, min_relevant_score=0.25, section_margin=0.03)
    opening = FakeHit("lap-dat", "Bài lap-dat", "u", FREE_INSTALL, 0.70, "Bài lap-dat")
    kb = FakeKB([opening, hit("lap-dat", 0.50, COPPER_PIPE, "Vật tư")],
                alone={"Bài lap-dat": 0.30, "Vật tư": 0.50})
    answer = answer_question(kb, "ống đồng giá sao", config, context="lắp đặt",
                             shown=[("lap-dat", "")])
    assert answer.sections == ("Vật tư",) and "tivi" not in answer.text
    assert answer_question(kb, "ống đồng giá sao", config, context="lắp đặt").sections == (
        "", "Vật tư")
    # The other passage is the opening: it alone would answer nothing, both are sent.
    after = FakeKB([hit("lap-dat", 0.70, COPPER_PIPE, "Vật tư"), opening],
                   alone={"Bài lap-dat": 0.60, "Vật tư": 0.50})
    config = replace(config, section_margin=0.05, hedged_section_margin=0.05)
    assert answer_question(after, "ống đồng giá sao", config, context="lắp đặt",
                           shown=[("lap-dat", "Vật tư")]).sections == ("Vật tư", "")


def test_not_helpful_also_offers_the_other_sections_of_the_article_answered() -> None:
    kb = FakeKB([
        hit("bao-hanh", 0.80, SHIPPING, "Thời gian xử lý bảo hành"),
        hit("doi-tra", 0.60, RETURNS),
        hit("bao-hanh", 0.75, SHIPPING, "Thời hạn bảo hành theo nhóm sản phẩm"),
        hit("bao-hanh", 0.50, SHIPPING, "Gói bảo hành mở rộng"),
        hit("bao-hanh", 0.40, SHIPPING, "Bảo hành điện tử"),
    ])
    answer = answer_question(kb, "bảo hành mấy tháng", CONFIG)
    assert answer.sections == ("Thời gian xử lý bảo hành",)
    assert answer.meta()["sections"] == ["Thời gian xử lý bảo hành"]
    again = next_best(kb, "bảo hành mấy tháng", {"bao-hanh"}, CONFIG, None, "bao-hanh",
                      answer.sections)
    # Best first, sections and articles together; not the section that did not help.
    assert [(a.id, a.section) for a in again.articles] == [
        ("bao-hanh", "Thời hạn bảo hành theo nhóm sản phẩm"),
        ("doi-tra", ""),
        ("bao-hanh", "Gói bảo hành mở rộng"),
    ]
    assert again.articles[0].to_json()["section"] == "Thời hạn bảo hành theo nhóm sản phẩm"
    assert "section" not in again.articles[1].to_json()


def test_a_picked_section_is_answered_from_that_section_under_its_heading() -> None:
    kb = FakeKB([
        hit("bao-hanh", 0.80, SHIPPING, "Thời gian xử lý bảo hành"),
        hit("bao-hanh", 0.75, RETURNS, "Thời hạn bảo hành theo nhóm sản phẩm"),
    ])
    picked = answer_article(kb, "bao-hanh", "bảo hành mấy tháng", CONFIG,
                            section="Thời hạn bảo hành theo nhóm sản phẩm")
    assert picked.text.startswith("Thời hạn bảo hành theo nhóm sản phẩm:\n")
    assert "7 ngày" in picked.text and "35.000đ" not in picked.text
    assert picked.sections == ("Thời hạn bảo hành theo nhóm sản phẩm",)
    # A section the article no longer has: its best section, as for a picked title.
    gone = answer_article(kb, "bao-hanh", "bảo hành mấy tháng", CONFIG, section="Cũ")
    assert "35.000đ" in gone.text


@pytest.mark.parametrize(
    ("text", "vague"),
    [
        # "làm sao giờ" got the support hours, confidently ("giờ" is also "hours")
        ("làm sao giờ", True), ("giờ phải làm sao", True), ("thế nào vậy shop", True),
        ("ủa rồi sao", True), ("vậy giờ tính sao", True),
        # folded, every word of it is also a function word
        ("bán vé máy bay không", False), ("bao lâu", False),
        ("làm sao để hủy đơn", False), ("giờ mở cửa", False), ("mấy giờ mở cửa", False),
        ("phí ship bao nhiêu", False), ("tra gop dc ko", False), ("cod", False), ("", False),
    ],
)
def test_a_message_that_names_no_topic(text: str, vague: bool) -> None:
    from actions.faq import names_no_topic

    assert names_no_topic(text) is vague


class ConversationKB(FakeKB):
    """Hits per message, so a question and its follow-up can rank passages differently."""

    def __init__(self, by_query: Mapping[str, Sequence[FakeHit]],
                 alone: Mapping[str, float]) -> None:
        super().__init__([], alone)
        self.by_query = {q: list(h) for q, h in by_query.items()}

    def search(
        self, query: str, top_k: int = 5, known_vectors: Mapping[str, Any] | None = None,
        context: str | None = None,
    ) -> list[FakeHit]:
        self.hits = self.by_query[query]
        return super().search(query, top_k, known_vectors, context)

    def search_within(
        self, query: str, article_id: str, top_k: int = 1, context: str | None = None
    ) -> list[FakeHit]:
        self.hits = self.by_query[query]
        return super().search_within(query, article_id, top_k, context)


@pytest.mark.parametrize(("alone_prefers", "repeats"), [("Vật tư", 0.0), ("Miễn phí", 1.0)])
def test_the_follow_up_eval_answers_the_question_before_first_and_counts_repeats(
    alone_prefers: str, repeats: float
) -> None:
    from knowledge_base.evaluate import FollowUp, Question, run_follow_up_eval

    free, pipe = (hit("lap-dat", 0.70, FREE_INSTALL, "Miễn phí"),
                  hit("lap-dat", 0.68, COPPER_PIPE, "Vật tư"))
    kb = ConversationKB(
        {"lắp máy lạnh có miễn phí không": [free], "ống đồng tính tiền sao": [free, pipe]},
        alone={"Miễn phí": 0.40, "Vật tư": 0.40} | {alone_prefers: 0.60},
    )
    config = FaqConfig(confident_score=0.45, min_relevant_score=0.25, section_margin=0.05)
    item = FollowUp("lắp máy lạnh có miễn phí không",
                    Question("ống đồng tính tiền sao", "lap-dat", "Vật tư", "follow_up",
                             ("180.000đ",)), "follow_up")
    alone, with_before = run_follow_up_eval(kb, [item], config)  # type: ignore[arg-type]
    assert (alone.searched, alone.repeats) == ("alone", 0.0)
    assert with_before.repeats == repeats and with_before.facts_in_reply == 1.0
