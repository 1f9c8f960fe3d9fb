"""triage.sentiment: decisions, cues, training/persistence, and the transformers backend."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from triage.cues import calm_answer_feedback, calm_closing, directed_abuse, extract_cues
from triage.sentiment import (
    CLASSES,
    DEFAULT_MODEL_DIR,
    Sentiment,
    SentimentModel,
    Thresholds,
    TrainConfig,
    TrainedSentimentModel,
    decide_from_proba,
    load_default_model,
    needs_training,
    read_manifest,
    train,
    with_lexical_rules,
)

ROWS = {
    "angry": ["ĐM shop lừa đảo!!!", "tôi sẽ báo công an", "LÀM ĂN KIỂU GÌ VẬY???",
              "vcl chờ 2 tuần", "review 1 sao cho shop 😡", "bóc phốt lên facebook",
              "cút, đồ lừa đảo", "quá đáng, hoàn tiền ngay!!!"],
    "negative": ["giao hơi chậm", "áo bị rách", "hàng không giống hình", "chưa nhận được hàng",
                 "hơi thất vọng", "pin yếu quá", "hộp bị móp", "mã giảm giá không dùng được"],
    "neutral": ["đơn DH123456 bao giờ giao", "phí ship bao nhiêu", "ok", "có size M không",
                "chính sách hoàn tiền thế nào", "tôi muốn đổi địa chỉ", "giờ mở cửa",
                "có giao COD không"],
    "positive": ["cảm ơn shop nhiều", "hàng đẹp lắm", "rất hài lòng", "tuyệt vời 👍",
                 "sẽ ủng hộ tiếp", "giao nhanh, cảm ơn", "nhân viên nhiệt tình", "5 sao"],
}


def write_data(path: Path, extra_test: Sequence[tuple[str, str]] = ()) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for label, texts in ROWS.items():
            for i, text in enumerate(texts):
                split = "test" if i == len(texts) - 1 else "train"
                fh.write(json.dumps({"text": text, "label": label, "split": split},
                                    ensure_ascii=False) + "\n")
        for text, label in extra_test:
            fh.write(json.dumps({"text": text, "label": label, "split": "test"},
                                ensure_ascii=False) + "\n")
    return path


class HashEncoder:
    """A deterministic stand-in for e5 (384-dim, unit norm) so these tests need no engine."""

    name = "hash"

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for text in texts:
            seed = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
            out.append(v / np.linalg.norm(v))
        return np.stack(out)


FAST = TrainConfig(C_grid=(1.0, 10.0), folds=3)


def test_sentiment_value_object() -> None:
    s = Sentiment("negative", True, -0.91234)
    assert s.category == "angry"
    assert s.to_dict() == {"label": "negative", "angry": True, "score": -0.9123}
    assert Sentiment.from_value({"label": "angry", "score": -1}) == Sentiment(
        "negative", True, -1.0)
    assert Sentiment.from_value({"label": "weird"}) == Sentiment("neutral", False, 0.0)
    assert Sentiment.from_value(None) is None
    assert Sentiment.from_value(s) is s


def test_decide_from_proba() -> None:
    th = Thresholds(angry=0.3, negative=0.5)
    proba = np.array([
        [0.35, 0.3, 0.3, 0.05],  # angry over its threshold
        [0.1, 0.5, 0.3, 0.1],  # negative: P(neg)+P(angry) = 0.6
        [0.05, 0.2, 0.6, 0.15],
        [0.0, 0.05, 0.25, 0.7],
    ])
    got = decide_from_proba(proba, th)
    assert [s.category for s in got] == ["angry", "negative", "neutral", "positive"]
    assert got[0].label == "negative"
    assert got[3].score == pytest.approx(0.65)  # P(pos) - P(neg) - P(angry)
    assert all(-1 <= s.score <= 1 for s in got)


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("dm shop", "profanity"),
        ("vcl thật", "profanity"),
        ("đ.m shop", "profanity"),
        ("V.C.L luôn", "profanity"),
        ("d*m", "profanity"),
        ("tôi sẽ báo công an", "threat"),
        ("review 1 sao", "threat"),
        ("bao cong an", "threat"),
        ("Bộ Công Thương sẽ biết", "threat"),
        ("bực mình quá", "anger"),
        ("hàng ko tốt", "negated_positive"),
        ("giỏi thật đấy =))", "sarcasm"),
        ("😡", "angry_emoji"),
        ("sao vậy!!!", "multi_exclaim"),
        ("TRẢ TIỀN ĐÂY", "caps_words"),
    ],
)
def test_cues(text: str, cue: str) -> None:
    assert getattr(extract_cues(text), cue) > 0


def test_cues_avoid_common_false_friends() -> None:
    calm = extract_cues("Cho mình đặt kiện hàng phụ kiện, làm ơn giao COD và VAT nhé")
    assert calm.threat == 0 and calm.profanity == 0 and calm.caps_words == 0
    assert extract_cues("Cảm ơn shop").positive > 0
    # Dotted letters that spell nothing rude, and numbers, stay innocent.
    assert extract_cues("giao đến TP.HCM, v.v., bản 1.5 mới").profanity == 0


@pytest.mark.parametrize(
    ("text", "abuse"),
    [
        ("Shop khon nan that", True),  # without marks the classifier read it neutral
        ("nhân viên thái độ mất dạy", True),
        ("shop này lừa đảo", True),
        ("mai t kien, cho day", True),
        ("Tôi sẽ kiện!", True),
        # A customer checking, a parcel, a proposal, patience: not abuse.
        ("shop có lừa đảo không vậy", False),
        ("shop lừa đảo à?", False),
        ("shop không lừa đảo đâu", False),
        ("trang web giả mạo Sao Mai có phải lừa đảo không", False),
        ("tôi nhận 1 kiện hàng bị móp", False),
        ("minh kien nghi shop them size", False),
        ("mình kiên nhẫn chờ thêm", False),
    ],
)
def test_directed_abuse(text: str, abuse: bool) -> None:
    assert directed_abuse(text) is abuse


def test_the_lexical_rules_never_contradict_a_labelled_line() -> None:
    # Every labelled file, the frozen set and the lines kept out of training included: the
    # rule overrides the classifier, so one calm hit would be a false escalation.
    from cskh.jsonl import read_jsonl
    from cskh.paths import REPO_ROOT

    calm, angry, unflagged = [], 0, []
    for path in sorted((REPO_ROOT / "triage" / "data").glob("sentiment*.jsonl")):
        for _, row in read_jsonl(path):
            if directed_abuse(row["text"]):
                angry += row["label"] == "angry"
                if row["label"] != "angry":
                    calm.append(row["text"])
            # The other rule takes an angry flag away: it must never meet an angry line.
            if calm_answer_feedback(row["text"]) and row["label"] == "angry":
                unflagged.append(row["text"])
            # A calm closing is read neutral: no angry or negative line may be one.
            if calm_closing(row["text"]) and row["label"] in ("angry", "negative"):
                unflagged.append(row["text"])
    assert calm == [] and unflagged == []
    assert angry >= 10  # and it does fire on the angry ones it is meant for


def test_directed_abuse_is_angry_whatever_the_classifier_read() -> None:
    read = [Sentiment("neutral", False, 0.08), Sentiment("neutral", False, 0.1),
            Sentiment("negative", True, -0.9)]
    got = with_lexical_rules(["Shop khon nan that", "shop co lua dao khong", "DM shop"], read)
    assert got[0] == Sentiment("negative", True, -0.5)  # angry, and negative enough for the hub
    assert got[1:] == read[1:]  # a question is left alone; an angry reading is kept as read
    assert load_default_model().predict(["Shop khon nan that"])[0].angry


@pytest.mark.parametrize(
    ("text", "calm"),
    [
        ("trả lời sai rồi", True),
        ("tra loi sai roi", True),
        ("sai rui, ko phai cai do", True),
        ("thông tin sai rồi 😞", True),
        # Heat, or more than feedback on the answer: left to the model.
        ("TRẢ LỜI SAI RỒI", False),
        ("trả lời sai rồi!!!", False),
        ("sai rồi 😡", False),
        ("sai rồi đồ ngu", False),
        ("trả lời như cc", False),
        ("shop giao sai màu rồi", False),  # a wrong delivery, not the answer
    ],
)
def test_calm_answer_feedback(text: str, calm: bool) -> None:
    assert calm_answer_feedback(text) is calm


@pytest.mark.parametrize(
    ("text", "calm"),
    [
        ("hết rồi", True), ("het roi shop", True), ("vậy thôi ạ, cảm ơn", True),
        ("xong rồi nhé", True),
        # heat, or more than a closing: left to the model
        ("HẾT RỒI!!!", False), ("hết rồi à, sao shop không báo", False),
        ("tôi ghi âm hết rồi", False), ("hết hàng rồi", False),
    ],
)
def test_calm_closing(text: str, calm: bool) -> None:
    assert calm_closing(text) is calm


def test_a_calm_closing_is_neutral_whatever_the_classifier_read() -> None:
    # "hết rồi" was angry (-0.87): the hub handed a finished chat over as fury.
    read = [Sentiment("negative", True, -0.87), Sentiment("negative", True, -0.9)]
    got = with_lexical_rules(["hết rồi", "hết rồi à, sao shop không báo"], read)
    assert got == [Sentiment("neutral", False, 0.0), read[1]]


def test_a_short_anger_word_is_not_praise() -> None:
    # "bực ghê" read positive (+0.14): the playful praise of the data shares its words.
    read = [Sentiment("positive", False, 0.14), Sentiment("positive", False, 0.9),
            Sentiment("positive", False, 0.8)]
    got = with_lexical_rules(
        ["bực ghê", "hết bực rồi, cảm ơn shop", "bực ghê, robot hút bụi làm hết việc nhà 😂"],
        read,
    )
    assert got[0].label == "negative" and got[0].score < 0 and not got[0].angry
    assert got[1:] == read[1:]  # warmth beside it, or room for a playful turn: as read
    # ... and it never meets a line the data labels positive (the frozen set included).
    from cskh.jsonl import read_jsonl
    from cskh.paths import REPO_ROOT
    from triage.sentiment import _anger_without_warmth

    praised = [
        row["text"]
        for path in sorted((REPO_ROOT / "triage" / "data").glob("sentiment*.jsonl"))
        for _, row in read_jsonl(path)
        if row["label"] == "positive" and _anger_without_warmth(row["text"])
    ]
    assert praised == []


def test_calm_feedback_on_the_answer_is_negative_not_angry() -> None:
    read = [Sentiment("negative", True, -0.92), Sentiment("negative", True, -0.9)]
    got = with_lexical_rules(["trả lời sai rồi", "TRẢ LỜI SAI RỒI"], read)
    assert got == [Sentiment("negative", False, -0.92), read[1]]
    [said] = load_default_model().predict(["trả lời sai rồi"])
    assert said.label == "negative" and not said.angry


def test_train_save_load_and_retrain_only_on_change(tmp_path: Path) -> None:
    data = write_data(tmp_path / "s.jsonl")
    model_dir = tmp_path / "model"
    assert needs_training(data, model_dir)
    report = train(data, model_dir, FAST, encoder=HashEncoder())
    assert report.n_train == 28 and set(report.counts) == set(CLASSES)
    manifest = read_manifest(model_dir)
    assert manifest is not None
    assert manifest["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert set(manifest["thresholds"]) == {"angry", "negative"}
    assert not needs_training(data, model_dir, FAST)
    # A changed training recipe retrains, as changed data does.
    assert needs_training(data, model_dir, replace(FAST, max_false_angry=0.5))
    model = TrainedSentimentModel.load(model_dir, encoder=HashEncoder())
    assert isinstance(model, SentimentModel)
    out = model.predict(["ĐM shop lừa đảo!!!", "cảm ơn shop nhiều", ""])
    assert len(out) == 3 and all(isinstance(s, Sentiment) for s in out)
    assert model.predict([]) == []
    with data.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"text": "x", "label": "neutral", "split": "test"}) + "\n")
    assert needs_training(data, model_dir)


def test_thresholds_come_from_train_split_only(tmp_path: Path) -> None:
    """Adding or relabelling TEST rows must not change what the model learns."""
    a = write_data(tmp_path / "a.jsonl")
    b = write_data(tmp_path / "b.jsonl", extra_test=[("cảm ơn", "angry"), ("dm", "positive")])
    ra = train(a, tmp_path / "ma", FAST, encoder=HashEncoder())
    rb = train(b, tmp_path / "mb", FAST, encoder=HashEncoder())
    assert (ra.C, ra.thresholds, ra.cv) == (rb.C, rb.thresholds, rb.cv)


def test_bad_data_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "furious", "split": "train"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="furious"):
        train(bad, tmp_path / "m", FAST, encoder=HashEncoder())


def test_default_model_is_loaded_once(tmp_path: Path) -> None:
    data = write_data(tmp_path / "s.jsonl")
    train(data, tmp_path / "m", FAST, encoder=HashEncoder())
    first = load_default_model(tmp_path / "m", data)
    assert load_default_model(tmp_path / "m", data) is first


@pytest.mark.skipif(read_manifest(DEFAULT_MODEL_DIR) is None,
                    reason="default model not trained (cskh sentiment train)")
def test_default_model_on_obvious_messages() -> None:
    model = load_default_model()
    got = model.predict([
        "ĐM shop lừa đảo, tôi sẽ báo công an!!!",
        "Cho mình hỏi phí ship ra Hà Nội bao nhiêu ạ?",
        "Cảm ơn shop, hàng đẹp lắm 😊",
        # The datasheet's rule: a problem with an expressed feeling is negative; a bare
        # report of one ("Áo bị rách ở tay") is a judgment call between neutral and negative.
        "Áo bị rách một chút ở tay, hơi thất vọng",
        "giao hang cham qua, hoi buon",
    ])
    assert [s.category for s in got] == ["angry", "neutral", "positive", "negative", "negative"]


# --------------------------------------------------------------------------------------------
# Transformers backend, with a tiny random model built here (nothing is downloaded)


@pytest.fixture(scope="module")
def tiny_hf_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    path = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "shop", "lua", "dao", "cam", "on",
             "hang", "dep", "cham", "qua", "don", "##g", "!"]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizer(vocab_file=str(path / "vocab.txt"))
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, num_labels=3,
        id2label={0: "NEG", 1: "NEU", 2: "POS"}, label2id={"NEG": 0, "NEU": 1, "POS": 2},
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_transformers_backend_guesses_labels(tiny_hf_model: Path) -> None:
    from triage.sentiment import TransformersSentimentModel

    model = TransformersSentimentModel(str(tiny_hf_model))
    assert sorted(model.mapping.values()) == ["negative", "neutral", "positive"]
    out = model.predict(["shop lua dao!", "cam on shop", "hang dep qua"])
    assert len(out) == 3 and isinstance(model, SentimentModel)
    proba = model.predict_proba(["shop lua dao!"])
    assert proba.shape == (1, 4) and proba.sum() == pytest.approx(1.0, abs=1e-5)
    assert proba[0, 0] == 0.0  # no angry class in this model
    for s, p in zip(out, model.predict_proba(["shop lua dao!", "cam on shop", "hang dep qua"]),
                    strict=True):
        assert s.score == pytest.approx(p[3] - p[0] - p[1], abs=1e-6)
        assert not s.angry


def test_transformers_backend_label_config_and_angry_threshold(tiny_hf_model: Path,
                                                               tmp_path: Path) -> None:
    from triage.sentiment import TransformersSentimentModel, load_model

    cfg = tmp_path / "labels.yml"
    cfg.write_text("labels: {NEG: angry, NEU: neutral, POS: positive}\n", encoding="utf-8")
    model = load_model(f"hf:{tiny_hf_model}", label_config=cfg)
    assert isinstance(model, TransformersSentimentModel)
    assert model.mapping == {0: "angry", 1: "neutral", 2: "positive"}
    # No angry class, but a threshold on P(negative): 0.0 makes every message angry.
    always = TransformersSentimentModel(str(tiny_hf_model), angry_threshold=0.0)
    assert all(s.angry and s.label == "negative" for s in always.predict(["cam on", "shop"]))
    with pytest.raises(ValueError):
        TransformersSentimentModel(str(tiny_hf_model), {"NEG": "furious"})
