"""Custom Rasa 3.6 NLU component (imported by Rasa from .venv-rasa, cwd = repository root).

`UnknownWordsFallback`: a linear intent classifier sees an all-unknown message ("qwxz plok",
"asdfgh") as a zero feature vector and answers with its intercepts, i.e. confidently the
intent with the shortest examples (measured: "qwxz plok vvv" -> affirm 0.77). This component
remembers the accent-folded words of the training data and turns a message in which too few
words are known into `nlu_fallback`, so the bot says it did not understand instead of "ok";
so is "???", question marks and no word (it was affirm too).
Button payloads ("/intent{...}") are never touched.

`ReadingTokenizer`: Rasa's whitespace tokenizer whose tokens also carry, as their lemma, the
word as the search and the triage read it: accent-folded, teencode spelled out ("sp" ->
"san pham", "bh" -> "bao gio bao hanh", "ko" -> "khong"). The count-vector featurizers read
lemmas, so "sp bi loi thi bh o dau" shares its features with "sản phẩm bị lỗi thì bảo hành
ở đâu" instead of being a bag of unseen letters (measured: it was read as goodbye, 0.69).
The text and the token offsets stay as typed, for the entity extractors.

`OrderCodeIntent`: the bot asks "cho em xin mã đơn hàng" and the customer answers with the
code alone ("DH123456", "mã đơn DH445566", "dh 112233 nhé"). The linear classifier read such
answers as affirm, give_phone_digits or goodbye (measured: all 5 held-out ones wrong; the
order_code regex feature did not outweigh the digits' character n-grams), and the bot
answered "Dạ vâng ạ". A message with an order code and at most a few other words, or whose
intent says nothing of its own (ok, thanks, digits, not understood), is an order question.
So is a code with "not here yet" ("mình đặt đơn DH123456 từ thứ 2 mà giờ vẫn chưa nhận được,
gọi hotline không ai bắt máy" was product_question 0.48 and got the help center's passage on
confirmation messages) unless it asks about money or papers (a refund, an invoice) or the
classifier called it a complaint or a request for a person, which have their own flows.
Without a code, "ordered" and "the goods have not come" ("sao lâu vậy, tôi đặt từ 7/11 mà giờ
chưa thấy, sđt tôi 0987654321" was out_of_scope, 0.75, on its date and phone number) is an
order question too, and the bot asks for the code; not when what has not come is an OTP, a
confirmation or money, nor a question about what can be done meanwhile ("đơn chưa giao đổi
địa chỉ được không"). "đơn e đâu r" (where is my order, in teencode) was not understood
(order_status 0.20 below deny): a message asking where its order is, read as order_status
or as an intent with no request of its own, is an order question.

`PhoneDigitsNeedDigits`: "4 số cuối" are four digits. The classifier also read "mình đặt 2
đơn mà bị gộp làm 1 được ko" as give_phone_digits (0.96), on its small numbers, and the bot
asked for an order code. Without four digits in a row (an order code's do not count) the
message takes the next intent of its ranking, its confidence renormalised without this one.

`QuestionNotDeny`: "mua laptop tặng kèm chuột không" was deny (0.56), on its last word,
and the bot said "Dạ em hiểu rồi ạ" to a question; so were "mất phí không" (0.85) and "lâu
không" (0.94), asked right after an answer. A message that ends with the yes/no particle
("... không?", "... ko", "... k") after a word that names something asks about it; read as
deny it takes the next intent of its ranking, as above. Denials end otherwise ("thôi không
cần nữa", "không phải vậy") or put only words of a reply before it ("không", "thôi không",
"dạ không", "chắc là không"), and stay deny. So does a question of where, when, how or how
much ("ở đâu" right after the warranty's answer was deny 0.50, on the "đâu" of "không đâu"):
"ở đâu", "chỗ nào", "bao lâu", "làm sao"; a bare "đâu" or "gì" stays ("không có gì đâu ạ").

`NegatedProblemNotDeny`: "không nhớ mật khẩu" was deny (0.72) and "tôi không nhớ email đăng
ký" too (0.45): "Dạ em hiểu rồi ạ". A negated verb of a problem ("không nhớ", "ko nhận",
"chưa thấy") or an inability ("không vào được") states a problem, and the message takes the
next intent of its ranking, as above; refusals ("không cần", "không phải", "chưa ạ") and a
customer's will ("lần sau chắc không mua nữa", answered with empathy as a "no") stay deny.

`QuestionNotAffirm`: "được ưu đãi gì", asked right after an answer about membership tiers,
was affirm (0.56, on "được") and got "Dạ vâng ạ". An affirm reading of a message with a
question word ("gì", "nào", "đâu", "ai", "bao nhiêu", "bao lâu", "thế nào"...) takes the next
intent of its ranking, as above; "ok", "được rồi", "ừ sao cũng được" stay affirm. So does
"mấy" before a unit ("ok vậy mất mấy ngày" was affirm 0.38, "Dạ vâng ạ").

`IntentNeedsAWord`: an intent whose messages always contain one of a few words, given in
bot/config.yml. "vậy phải làm sao", after an answer, was bot_challenge (0.39) and got "em là
trợ lý tự động": a "bot or person?" question names someone ("bạn", "em", "bot", "người",
"máy", "ai"...). "ko nhan dc tin nhan xac nhan don" was request_human (0.84, folded "nhan"
as in "nhan vien") and the customer was queued for a person: a request names the person
("nhân viên", "người", "tư vấn", "admin", "quản lý"...); "ad ơi" alone calls whoever reads
("ad ơi e muốn đổi sdt nhận hàg" was request_human 0.76), "ad ơi ra đây" asks for them.
Without one, the message takes the next intent of its ranking, as above.

`GreetingAsksNothing`: "shop ơi có hỗ trợ ship cod ko" was greet (0.57), and "shop hỗ trợ
đổi size không" (0.47), on the greet lines "shop ơi", "shop hỗ trợ mình với", "shop có đó
không ạ": the customer got "xin chào" to a question. A greeting read that asks something
(it ends with "không / ko / k / chưa", has "?" or a question word) and has a word the
greetings never use (bot/config.yml lists theirs) takes the next intent of its ranking;
"có ai ở đó không", "chào shop, cho mình hỏi chút" stay greet.
"""

from __future__ import annotations

import json
import re
import unicodedata
from itertools import pairwise
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

_WORD = re.compile(r"[a-z0-9]+")
# DH + 6 digits, as actions/orders.py reads it, on the folded text ("đh" folds to "dh").
_ORDER_CODE = re.compile(r"(?<![a-z0-9])dh ?\d{6}(?!\d)")
# "chưa nhận được", "vẫn chưa giao", "giờ hàng ở đâu", "bao giờ giao": where the goods are
# (folded text)
_NOT_HERE_YET = re.compile(
    r"\bchua (?:nhan|giao|thay|toi|den|ve|co hang|co don)\b"
    r"|\b(?:khong|ko|k) (?:nhan duoc|thay hang|thay don|giao|toi|den)\b"
    r"|\b(?:o|toi|den) dau\b|\b(?:bao gio|khi nao|luc nao|may ngay|bao lau)\b.*\b(?:giao|nhan|"
    r"toi|den|ship)\b|\b(?:giao|ship) (?:cham|lau|tre)\b"
)
# A refund, a transfer or an invoice for the order is the help center's (or a person's).
_MONEY_OR_PAPERS = re.compile(r"\b(?:tien|hoan|hoa don|vat|chuyen khoan|ck|thanh toan)\b")
# Without a code: the customer ordered ("đặt", "mua", "đơn") and the goods have not come ("tôi
# đặt từ 7/11 mà giờ chưa thấy", "đơn mình sao mãi chưa tới"): a late parcel, the order
# look-up's, which asks for the code. The message was out_of_scope (0.75) on its date and
# phone number. Not what else may not have come: an OTP, a confirmation, an e-mail.
_ORDERED = re.compile(r"\b(?:dat|mua|order|don)\b")
_GOODS_NOT_HERE = re.compile(
    r"\bchua (?:nhan|thay|co)(?: duoc)?(?: (?:hang|don|do|sp|san pham|kien|goi hang))?"
    r"(?: (?:dau|gi|ca|nua|a|ah|shop|ad|vay|luon|het))*$"
    r"|\bchua (?:nhan|thay|co)(?: duoc)? (?:hang|don hang|do|sp|san pham|kien|goi hang)\b"
    r"|\bchua (?:thay )?(?:giao|toi|den|ve|ship)\b|\bchua thay dau\b"
    r"|\b(?:khong|ko|k) nhan duoc (?:hang|don|do|sp|san pham|kien|goi hang)\b"
)
_NOT_GOODS = re.compile(
    r"\b(?:otp|ma (?:otp|xac nhan|giam gia)|tin nhan|email|mail|sms|xac nhan|thong bao|voucher"
    r"|diem|cuoc goi|goi lai|phan hoi|tra loi)\b"
)
# A question about what can be done meanwhile ("đơn chưa giao đổi địa chỉ được không", "chưa
# nhận được hàng thì hủy được không") or what the shop owes for the delay ("có đền gì ko") is
# the help center's.
_ASKS_WHAT_CAN_BE_DONE = re.compile(
    r"\b(?:huy|doi|sua|thay doi|tra lai|tra hang|dia chi)\b|\b(?:duoc|dc) (?:khong|ko|k)\b"
    r"|\bthi (?:sao|lam sao|phai lam|lam the nao|co)\b|\b(?:den bu|boi thuong|den gi|bu gi)\b"
)
_VOCAB_FILE = "vocabulary.json"
FALLBACK = "nlu_fallback"


def words_and_pairs(words: list[str]) -> set[str]:
    """The words and every two adjacent words ("bao lau", "nhan vien") of folded `words`."""
    return set(words) | {f"{a} {b}" for a, b in pairwise(words)}


def folded_words(text: str) -> list[str]:
    # Same folding as cskh.text.fold (that package is not installed in the Rasa venv).
    text = unicodedata.normalize("NFC", text).lower().replace("đ", "d")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return _WORD.findall(text)


def _set_intent(message: Message, name: str) -> None:
    """Make `name` the message's intent (confidence 1), first in its ranking."""
    chosen = {"name": name, "confidence": 1.0}
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r["name"] != name]
    message.set(INTENT, chosen, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [chosen, *ranking], add_to_output=True)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False
)
class ReadingTokenizer(WhitespaceTokenizer):
    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        # Imported here: Rasa puts the repository root (its working directory) on sys.path
        # only when it starts, after this module may have been imported.
        from cskh.text import expand_teencode

        tokens = super().tokenize(message, attribute)
        if attribute == TEXT:
            for token in tokens:
                token.lemma = expand_teencode(token.text)
        return tokens


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class UnknownWordsFallback(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # A message is "not understood" when fewer than this share of its words were ever
        # seen in training (accent-folded).
        return {"min_known_share": 0.34}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: set[str] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary or set()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnknownWordsFallback:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnknownWordsFallback:
        try:
            with model_storage.read_from(resource) as directory:
                words = json.loads((directory / _VOCAB_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            words = []
        return cls(config, model_storage, resource, set(words))

    def train(self, training_data: TrainingData) -> Resource:
        vocabulary: set[str] = set()
        for example in training_data.training_examples:
            vocabulary.update(folded_words(example.get(TEXT) or ""))
        self._vocabulary = vocabulary
        with self._storage.write_to(self._resource) as directory:
            (directory / _VOCAB_FILE).write_text(json.dumps(sorted(vocabulary)), "utf-8")
        return self._resource

    def known_share(self, text: str) -> float | None:
        words = folded_words(text)
        if not words:
            return None
        return sum(w in self._vocabulary for w in words) / len(words)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not self._vocabulary or text.startswith("/"):
                continue
            share = self.known_share(text)
            # "???" has no words at all; read as affirm, the bot said "Dạ vâng ạ" to a
            # customer who did not understand it. Emoji alone are left to the classifier and
            # the sentiment (":(" gets an apology).
            puzzled = share is None and "?" in text
            if not puzzled and (share is None or share >= self._config["min_known_share"]):
                continue
            _set_intent(message, FALLBACK)
        return messages


class _Untrained(GraphComponent):
    """A component that only reads its configuration: nothing to train or load."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = {**self.get_default_config(), **config}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _Untrained:
        return cls(config)


# "đơn e đâu r", "đơn của mình tới đâu rồi" (folded): where the customer's order is
_WHERE_IS_MY_ORDER = re.compile(
    r"\bdon(?: hang)?(?: cua)?(?: (?:em|e|minh|mk|toi|tui|t|anh|chi|ban))?"
    r" (?:dau|o dau|toi dau|den dau|sao roi|the nao roi)\b"
)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class OrderCodeIntent(_Untrained):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent": "order_status",
            # Words besides the code that still make it "the code, given" ("mã đơn ... ạ").
            "max_other_words": 3,
            # Intents that carry no request of their own: a code in them is the request.
            "content_free_intents": [
                "affirm", "deny", "greet", "goodbye", "thank", "give_phone_digits",
                "bot_challenge", "out_of_scope", FALLBACK,
            ],
            # Intents whose flow a code with "not here yet" does not take the message from.
            "own_flow_intents": ["complain", "request_human"],
        }

    def is_order_code_answer(self, text: str, intent: str | None) -> bool:
        folded = " ".join(folded_words(text))
        match = _ORDER_CODE.search(folded)
        if match is None:
            return False
        others = (folded[: match.start()] + " " + folded[match.end():]).split()
        return (
            len(others) <= self._config["max_other_words"]
            or intent in self._config["content_free_intents"]
            or (intent not in self._config["own_flow_intents"]
                and _NOT_HERE_YET.search(folded) is not None
                and _MONEY_OR_PAPERS.search(folded) is None)
        )

    def is_late_order_without_code(self, text: str, intent: str | None) -> bool:
        # Clauses, so that "chưa thấy" ends one ("chưa thấy, sđt tôi 0987654321").
        clauses = [" ".join(folded_words(c)) for c in re.split(r"[,.;!?\n]+", text)]
        folded = " ".join(clauses)
        return (
            intent not in self._config["own_flow_intents"]
            and _ORDER_CODE.search(folded) is None
            and _ORDERED.search(folded) is not None
            and any(_GOODS_NOT_HERE.search(c) for c in clauses)
            and _MONEY_OR_PAPERS.search(folded) is None
            and _NOT_GOODS.search(folded) is None
            and _ASKS_WHAT_CAN_BE_DONE.search(folded) is None
        )

    def asks_where_its_order_is(self, text: str, intent: str | None) -> bool:
        folded = " ".join(folded_words(text))
        return (
            (intent == self._config["intent"] or intent in self._config["content_free_intents"])
            and _WHERE_IS_MY_ORDER.search(folded) is not None
            and _MONEY_OR_PAPERS.search(folded) is None
        )

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if text.startswith("/"):
                continue
            intent = (message.get(INTENT) or {}).get("name")
            # Set even when the classifier already chose order_status: with its confidence
            # under the FallbackClassifier's threshold, "mã đơn DH445566" was not understood.
            if not (self.is_order_code_answer(text, intent)
                    or self.is_late_order_without_code(text, intent)
                    or self.asks_where_its_order_is(text, intent)):
                continue
            _set_intent(message, self._config["intent"])
        return messages


class _DropsADoubtfulIntent(_Untrained):
    """Gives a message read as `intent` the next intent of its ranking when `doubts` says the
    text cannot be that intent (button payloads are never touched)."""

    def doubts(self, text: str) -> bool:
        raise NotImplementedError

    def process(self, messages: list[Message]) -> list[Message]:
        name = self._config["intent"]
        for message in messages:
            text = message.get(TEXT) or ""
            intent = message.get(INTENT) or {}
            if text.startswith("/") or intent.get("name") != name:
                continue
            if self.doubts(text):
                _drop_intent(message, name)
        return messages


_FOUR_DIGITS = re.compile(r"(?<!\d)\d{4}(?!\d)")


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class PhoneDigitsNeedDigits(_DropsADoubtfulIntent):
    """See the module's docstring."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"intent": "give_phone_digits"}

    @staticmethod
    def has_phone_digits(text: str) -> bool:
        folded = " ".join(folded_words(text))
        return bool(_FOUR_DIGITS.search(_ORDER_CODE.sub(" ", folded)))

    def doubts(self, text: str) -> bool:
        return not self.has_phone_digits(text)


def _drop_intent(message: Message, name: str) -> None:
    """The next intent of the ranking becomes the message's, confidences renormalised."""
    others = [r for r in message.get(INTENT_RANKING_KEY) or [] if r["name"] != name]
    if not others:
        return
    rest = sum(r["confidence"] for r in others) or 1.0
    ranking = [{**r, "confidence": r["confidence"] / rest} for r in others]
    message.set(INTENT, ranking[0], add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)


_YES_NO_PARTICLE = frozenset("khong ko k kh hong hok khum".split())
# What may come before a "không" that answers no ("thôi không", "dạ không", "chắc là không",
# "vậy thì không", "em cũng không"): a word outside these names what is asked about.
_BEFORE_A_NO = _YES_NO_PARTICLE | frozenset(
    "thoi da a u o uh um ua chac la vay thi cung van em e minh mk toi tui t anh chi cam on ok"
    " oke roi nhung".split()
)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class QuestionNotDeny(_DropsADoubtfulIntent):
    """See the module's docstring."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"intent": "deny"}

    @staticmethod
    def asks_yes_or_no(text: str) -> bool:
        words = folded_words(text)
        while words and words[-1] in ("a", "ah", "shop", "ad", "vay", "nhi", "nhe"):
            words.pop()  # "... không ạ", "... không shop"
        return (
            len(words) > 1 and words[-1] in _YES_NO_PARTICLE
            and any(w not in _BEFORE_A_NO for w in words[:-1])
        )

    @staticmethod
    def asks_where_or_how(text: str) -> bool:
        return not words_and_pairs(folded_words(text)).isdisjoint(_WHERE_OR_HOW)

    def doubts(self, text: str) -> bool:
        return self.asks_yes_or_no(text) or self.asks_where_or_how(text)


# A negated verb that reports a problem ("không nhớ mật khẩu", "ko nhận được mã", "không
# vào được"), not a refusal ("không cần", "không phải") nor a customer's will ("lần sau chắc
# không mua nữa" is a churn threat, which the bot answers with empathy as a "no").
_NEGATION = _YES_NO_PARTICLE | {"chua"}
_PROBLEM_VERBS = frozenset(
    "nho nhan thay vao dang mo hien len tai gui lay tim kich xem ket nghe doc load chay hoat"
    " thanh su nhap".split()
)
_UNABLE = re.compile(r"\b(?:khong|ko|k|kh|hong|chua) (?:\w+ ){1,2}(?:duoc|dc)\b")


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class NegatedProblemNotDeny(_DropsADoubtfulIntent):
    """See the module's docstring."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"intent": "deny"}

    @staticmethod
    def states_a_problem(text: str) -> bool:
        words = folded_words(text)
        return bool(
            any(a in _NEGATION and b in _PROBLEM_VERBS for a, b in pairwise(words))
            or _UNABLE.search(" ".join(words))
        )

    def doubts(self, text: str) -> bool:
        return self.states_a_problem(text)


# "gì", "nào", "đâu", "ai" and "bao nhiêu / bao lâu / bao giờ / thế nào / làm sao / tại sao",
# "mấy ngày / mấy giờ...": what an agreement never asks (a lone "sao" is left: "ừ sao cũng
# được" agrees; "mấy" folds to "may", a machine, so only before a unit it counts).
_QUESTION_WORDS = frozenset("gi nao dau ai".split())
_QUESTION_PAIRS = frozenset(
    ("bao nhieu", "bao lau", "bao gio", "the nao", "lam sao", "tai sao", "vi sao", "khi nao",
     *(f"may {unit}" for unit in "ngay gio hom tieng tuan thang phut lan buoc".split()))
)
# What a "no" never asks either; "đâu" and "gì" alone are left: "không đâu", "không có gì".
_WHERE_OR_HOW = _QUESTION_PAIRS | frozenset(
    ("o dau", "tai dau", "di dau", "toi dau", "den dau", "cho nao", "noi nao")
)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class QuestionNotAffirm(_DropsADoubtfulIntent):
    """See the module's docstring."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"intent": "affirm"}

    @staticmethod
    def asks_what(text: str) -> bool:
        return not words_and_pairs(folded_words(text)).isdisjoint(_QUESTION_WORDS | _QUESTION_PAIRS)

    def doubts(self, text: str) -> bool:
        return self.asks_what(text)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class IntentNeedsAWord(_DropsADoubtfulIntent):
    """See the module's docstring."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # `words`: folded words or two-word phrases, one of which the message must contain;
        # `ignore`: two-word phrases that do not count ("ad ơi" only calls whoever reads).
        return {"intent": None, "words": [], "ignore": []}

    def has_a_word(self, text: str) -> bool:
        words = " ".join(folded_words(text))
        for phrase in self._config["ignore"]:
            words = re.sub(rf"\b{re.escape(phrase)}\b", " ", words)
        return not words_and_pairs(words.split()).isdisjoint(self._config["words"])

    def doubts(self, text: str) -> bool:
        return not self.has_a_word(text)


# Words a customer ends a question with after its yes/no particle ("... không ạ", "... ko shop").
_TRAILING_PARTICLES = frozenset("a ah nha nhe nhen vay z shop ad admin oi day ta".split())
_YES_NO_ENDINGS = frozenset("khong ko k hong hok khum chua".split())


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class GreetingAsksNothing(_DropsADoubtfulIntent):
    """See the module's docstring."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # `words`: the folded words greetings are made of (bot/config.yml).
        return {"intent": "greet", "words": []}

    @staticmethod
    def asks(text: str) -> bool:
        words = folded_words(text)
        while words and words[-1] in _TRAILING_PARTICLES:
            words.pop()
        return ("?" in text or (bool(words) and words[-1] in _YES_NO_ENDINGS)
                or QuestionNotAffirm.asks_what(text))

    def doubts(self, text: str) -> bool:
        greeting = set(self._config["words"])
        return self.asks(text) and any(w not in greeting for w in folded_words(text))
