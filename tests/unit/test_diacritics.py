import json
from pathlib import Path

from cskh.diacritics import EVERYDAY_SOURCES, DiacriticRestorer, everyday_texts
from cskh.text import has_diacritics

CORPUS = [
    "Đổi hàng trong vòng 7 ngày kể từ khi nhận hàng.",
    "Hạng Vàng được miễn phí giao hàng. Điều kiện lên hạng thành viên.",
    "Quên mật khẩu thì bấm Quên mật khẩu để nhận mã OTP.",
    "Mình muốn đổi hàng thì làm sao ạ",
]


def test_marks_come_back_and_context_picks_the_spelling() -> None:
    restorer = DiacriticRestorer(CORPUS)
    assert restorer.restore("quen mat khau thi lam sao") == "quên mật khẩu thì làm sao"
    # "hang" is both "hàng" (goods) and "hạng" (tier): the neighbouring word decides.
    assert restorer.restore("doi hang") == "đổi hàng"
    assert restorer.restore("len hang vang") == "lên hạng vàng"


def test_teencode_is_read_first_and_unknown_words_stay_as_typed() -> None:
    restorer = DiacriticRestorer([*CORPUS, "không nhận được mã OTP"])
    assert restorer.restore("ko nhan dc ma otp") == "không nhận được mã otp"
    assert restorer.restore("iphone 15 ABC123") == "iphone 15 abc123"


def test_a_teencode_word_that_is_also_a_word_keeps_its_own_reading() -> None:
    # "ty" is "thank you" in chat but also the "ty" of "công ty": read only as "cảm ơn", a
    # request for a company quote was restored as "công cảm ơn".
    restorer = DiacriticRestorer([*CORPUS, "Báo giá cho công ty", "cảm ơn shop"])
    assert restorer.restore("bao gia cho cong ty") == "báo giá cho công ty"


def test_text_with_marks_is_left_alone_and_empty_text_is_empty() -> None:
    restorer = DiacriticRestorer(CORPUS)
    # The customer typed "hạng": not second-guessed towards the corpus's commoner "hàng".
    assert restorer.restore("Đổi  HẠNG") == "đổi hạng"
    assert restorer.restore("") == ""
    assert restorer.restore("?!") == ""
    assert DiacriticRestorer([]).restore("quen mat khau") == "quen mat khau"


def test_everyday_texts_take_training_lines_only(tmp_path: Path) -> None:
    data = tmp_path / "lines.jsonl"
    rows = [
        {"text": "giao chậm quá", "label": "negative", "split": "train"},
        {"text": "hàng tốt", "label": "positive", "split": "test"},
        {"text": "no marks here", "label": "neutral", "split": "train"},
    ]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    nlu = tmp_path / "nlu.yml"
    nlu.write_text(
        'version: "3.1"\nnlu:\n- intent: order\n  examples: |\n'
        "    - số điện thoại của tôi là [0987654321](phone)\n    - hello\n",
        "utf-8",
    )
    texts = everyday_texts((data, nlu, tmp_path / "missing.jsonl"))
    assert texts == ("giao chậm quá", "số điện thoại của tôi là 0987654321")


def test_the_bundled_sources_exist_and_restore_everyday_words() -> None:
    assert all(path.exists() for path in EVERYDAY_SOURCES)
    texts = everyday_texts()
    assert len(texts) > 1000 and all(has_diacritics(t) for t in texts)
    restorer = DiacriticRestorer(texts)
    assert restorer.restore("sao gio van chua thay hang dau") == "sao giờ vẫn chưa thấy hàng đâu"
