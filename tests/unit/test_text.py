import pytest

from cskh.text import expand_teencode, fold, has_diacritics, normalize, tokens


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


def test_normalize_keeps_diacritics() -> None:
    assert normalize("  Xin   CHÀO ") == "xin chào"
