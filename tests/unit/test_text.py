from pathlib import Path

import pytest

from cskh.text import bigrams, expand_teencode, fold, has_diacritics, normalize, tokens


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Phí ship ra Hà Nội bao nhiêu?", "phi ship ra ha noi bao nhieu?"),
        ("ĐƠN HÀNG Đã GIAO", "don hang da giao"),
        # decomposed (NFD) input, as some phones send it, folds the same way
        ("Ho\u0300a đơn", "hoa don"),
        ("  nhiều   khoảng\u200b trắng ", "nhieu khoang trang"),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_has_diacritics() -> None:
    assert has_diacritics("phí ship")
    assert has_diacritics("đ")
    assert not has_diacritics("phi ship ra ha noi")


def test_teencode_is_expanded_on_word_boundaries_only() -> None:
    assert expand_teencode("ko nhận dc mã otp") == "khong nhan duoc ma otp ma xac nhan"
    assert tokens("sp lỗi thì đổi ntn") == ["san", "pham", "loi", "thi", "doi", "nhu", "the", "nao"]
    # "kho" and "koala" contain teencode prefixes but are other words
    assert expand_teencode("kho koala") == "kho koala"
    # "free ship" is "miễn phí" (it found failed deliveries, on "ship" and "không")
    assert "mien_phi" in bigrams("có free ship không") and "phi_van" in bigrams("free ship")


def test_normalize_keeps_diacritics() -> None:
    assert normalize("  Xin   CHÀO ") == "xin chào"


def test_jsonl_rows_come_with_line_numbers_and_a_bad_line_is_named(tmp_path: Path) -> None:
    from cskh.jsonl import read_jsonl

    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "a"}\n\n{"text": "b"}\n', encoding="utf-8")
    assert read_jsonl(good) == [(1, {"text": "a"}), (3, {"text": "b"})]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.jsonl:2: not JSON"):
        read_jsonl(broken)
    listed = tmp_path / "listed.jsonl"
    listed.write_text('["a"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"listed\.jsonl:1: expected a JSON object"):
        read_jsonl(listed)
