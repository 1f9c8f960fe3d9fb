"""The retrieval evaluation set must point at real sections of the demo help center."""

from collections import Counter

from cskh.paths import ARTICLES_DIR
from cskh.text import has_diacritics
from knowledge_base.evaluate import SHORT_QUESTIONS, load_questions
from knowledge_base.ingest import read_articles


def test_every_question_names_an_existing_article_section() -> None:
    articles = {a.article_id: a for a in read_articles(ARTICLES_DIR)}
    questions = load_questions()
    assert len(articles) >= 25
    assert len(questions) >= 120
    for q in questions:
        assert q.article in articles, q
        headings = {heading for heading, _ in articles[q.article].sections}
        assert q.section in headings, q
    # every article is asked about, so recall is not carried by a few easy ones
    per_article = Counter(q.article for q in questions)
    assert set(per_article) == set(articles)


def test_a_third_of_questions_lack_diacritics_or_use_teencode() -> None:
    questions = load_questions()
    informal = [q for q in questions if q.style in ("no_diacritics", "teencode")]
    assert len(informal) * 3 >= len(questions)
    for q in questions:
        if q.style == "no_diacritics":
            assert not has_diacritics(q.question), q.question


def test_short_questions_name_existing_sections_and_are_short() -> None:
    articles = {a.article_id: a for a in read_articles(ARTICLES_DIR)}
    questions = load_questions(SHORT_QUESTIONS)
    assert len(questions) >= 40
    for q in questions:
        assert q.article in articles, q
        assert q.section in {heading for heading, _ in articles[q.article].sections}, q
        assert len(q.question.split()) <= 7, q.question
        if q.style == "no_diacritics":
            assert not has_diacritics(q.question), q.question


def test_follow_ups_name_existing_sections_that_hold_their_facts() -> None:
    from knowledge_base.evaluate import FOLLOW_UPS, FOLLOW_UPS_HELDOUT, load_follow_ups

    sections = {
        (a.article_id, heading): body
        for a in read_articles(ARTICLES_DIR) for heading, body in a.sections
    }
    for path in (FOLLOW_UPS, FOLLOW_UPS_HELDOUT):
        items = load_follow_ups(path)
        kinds = Counter(f.kind for f in items)
        assert kinds["follow_up"] >= 15 and kinds["new_topic"] >= 3, (path.name, kinds)
        for item in items:
            q = item.question
            body = sections.get((q.article, q.section))
            assert body is not None, (path.name, q.question, q.section)
            # A fact the right section does not state could only be found by accident.
            assert all(f.casefold() in body.casefold() for f in q.facts), (q.question, q.facts)
            assert item.previous.strip() and item.previous != q.question
