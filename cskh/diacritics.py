"""Putting the marks back on Vietnamese typed without them ("quen mat khau" -> "quên mật khẩu").

Why: e5 reads "quen mat khau" much worse than "quên mật khẩu" (a third of customers type without
marks), while the help center is written with them. The restored text is one more query the
search embeds (`KnowledgeBase.dense_scores`); the lexical side keeps the folded words.

A bigram model over text written with marks: the help center's own articles (they know its
words: "trả góp", "hạng Vàng") and everyday customer Vietnamese (the training lines of the NLU
and sentiment data: "thì", "mà", "đâu", "mấy giờ"). Each folded word may become any written
form seen for it; Viterbi picks the likeliest sequence. A word never seen with marks stays as
typed, so "iphone", "esim" and order codes pass through.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from cskh.jsonl import read_jsonl
from cskh.paths import REPO_ROOT
from cskh.text import alternatives, fold, has_diacritics, normalize

_WORD = re.compile(r"\w+")
# Texts with marks written like customers write: training lines only, never a test or frozen
# evaluation file (they must stay unseen by anything that is tuned).
EVERYDAY_SOURCES: tuple[Path, ...] = (
    REPO_ROOT / "nlu_data" / "nlu.yml",
    REPO_ROOT / "triage" / "data" / "sentiment.jsonl",
    REPO_ROOT / "triage" / "data" / "sentiment_extra.jsonl",
    REPO_ROOT / "triage" / "data" / "sentiment_extra2.jsonl",
    REPO_ROOT / "triage" / "data" / "sentiment_extra3.jsonl",
)
_ENTITY = re.compile(r"\[([^\]]*)\]\([^)]*\)")  # Rasa's "[0987654321](phone)" annotation


class DiacriticRestorer:
    """Restores marks word by word with a bigram model; pure, built once per knowledge base."""

    # Spellings per folded word kept as candidates ("ma": mà, mã, má, mả, ma, mạ).
    max_forms = 6
    # Interpolation of the bigram with the unigram estimate: the corpus is small, so an unseen
    # pair must not rule a word out.
    bigram_weight = 0.7

    def __init__(self, texts: Iterable[str]) -> None:
        self._unigrams: Counter[str] = Counter()
        self._bigrams: Counter[tuple[str, str]] = Counter()
        forms: dict[str, Counter[str]] = {}
        for text in texts:
            written = _WORD.findall(normalize(text))
            self._unigrams.update(written)
            self._bigrams.update(pairwise(written))
            for word in written:
                forms.setdefault(fold(word), Counter())[word] += 1
        self._forms = {
            folded: [w for w, _ in counts.most_common(self.max_forms)]
            for folded, counts in forms.items()
        }
        self._total = max(sum(self._unigrams.values()), 1)

    def _log_prob(self, previous: str | None, word: str) -> float:
        unigram = (self._unigrams[word] + 0.1) / self._total
        if previous is None:
            return math.log(unigram)
        seen = self._unigrams[previous]
        bigram = self._bigrams[(previous, word)] / seen if seen else 0.0
        return math.log(self.bigram_weight * bigram + (1 - self.bigram_weight) * unigram)

    def restore_words(self, folded_words: Sequence[str]) -> list[str]:
        if not folded_words:
            return []
        candidates = [self._forms.get(w) or [w] for w in folded_words]
        # Viterbi: scores[form] = log probability of the likeliest sequence ending in form;
        # back[i][form] = the form before it at position i.
        scores = {c: self._log_prob(None, c) for c in candidates[0]}
        back: list[dict[str, str]] = []
        for options in candidates[1:]:
            step: dict[str, str] = {}
            new_scores: dict[str, float] = {}
            for c in options:
                new_scores[c], step[c] = max(
                    (scores[p] + self._log_prob(p, c), p) for p in scores
                )
            back.append(step)
            scores = new_scores
        word = max(scores, key=lambda c: scores[c])
        out = [word]
        for step in reversed(back):
            word = step[word]
            out.append(word)
        return out[::-1]

    def restore(self, text: str) -> str:
        """The text with marks; teencode is read first ("ko" -> "không"). Text that already
        has marks is returned normalised: the customer's own marks are not second-guessed."""
        if has_diacritics(text):
            return normalize(text)
        # The first reading of each teencode word ("bh": "bao giờ" before "bảo hành").
        folded = [word for slot in alternatives(text) for word in slot[0]]
        return " ".join(self.restore_words(folded))


def _nlu_examples(path: Path) -> list[str]:
    import yaml

    data = yaml.safe_load(path.read_text("utf-8")) or {}
    out = []
    for item in data.get("nlu", []):
        for line in str(item.get("examples", "")).splitlines():
            out.append(_ENTITY.sub(r"\1", line.strip().removeprefix("- ")))
    return out


def _training_lines(path: Path) -> list[str]:
    return [str(row["text"]) for _, row in read_jsonl(path) if row.get("split") == "train"]


@lru_cache(maxsize=1)
def everyday_texts(sources: tuple[Path, ...] = EVERYDAY_SOURCES) -> tuple[str, ...]:
    """Lines with marks from `sources` (missing files are skipped: an installed copy may
    ship only some of them, and the help center's own text still restores its words)."""
    texts: list[str] = []
    for path in sources:
        if path.exists():
            read = _nlu_examples if path.suffix in (".yml", ".yaml") else _training_lines
            texts.extend(t for t in read(path) if has_diacritics(t))
    return tuple(texts)
