"""Fact extraction and PII masking (triage.facts)."""

from __future__ import annotations

import pytest

from triage.facts import extract_facts, find_amounts, find_phones, mask_pii


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("sđt 0912345678", ["0912345678"]),
        ("gọi 0912 345 678 nhé", ["0912345678"]),
        ("0912.345.678", ["0912345678"]),
        ("số mình +84 912 345 678", ["0912345678"]),
        ("(+84)901234567", ["0901234567"]),
        ("84987654321", ["0987654321"]),
        ("0365 841 297 hoặc 0707-111-222", ["0365841297", "0707111222"]),
        ("bàn 024 3826 1234", ["02438261234"]),
        ("đơn DH091234 giá 120000", []),  # an order code and a price are not phones
        ("thẻ 4111111111111111", []),
        ("mã 012345", []),
    ],
)
def test_phones(text: str, phones: list[str]) -> None:
    assert find_phones(text) == phones


def test_order_codes_emails_products() -> None:
    facts = extract_facts(
        "Đơn DH123456 và dh-654321 (lại DH123456), email Nguyen.A@Gmail.com; "
        "cái áo khoác bị rách, tai nghe bluetooth thì hỏng"
    )
    assert facts.order_codes == ["DH123456", "DH654321"]
    assert facts.emails == ["nguyen.a@gmail.com"]
    assert facts.products == ["tai nghe", "ao khoac"]


def test_products_without_diacritics_and_heuristic() -> None:
    assert "may hut bui" in extract_facts("may hut bui hut yeu qua").products
    assert "binh hoa" in extract_facts("cái bình hoa bị vỡ rồi").products
    # A defect report names the part, then how it fails: the failure is not the product.
    assert extract_facts("hàng bị lỗi nhẹ, cái nút nguồn hơi lỏng").products == ["nut nguon"]
    assert extract_facts("chiec quat hong roi").products == ["quat"]
    assert extract_facts("cái bình rách quai").products == ["binh"]


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("bị trừ 1.200.000đ", [1_200_000]),
        ("2 lần 500k", [500_000]),
        ("hoàn 1,5 triệu", [1_500_000]),
        ("2tr", [2_000_000]),
        ("300 nghìn", [300_000]),
        ("150.000 VND", [150_000]),
        ("1,200,000 vnd", [1_200_000]),
        ("mất 2 củ", [2_000_000]),
        ("5 d", []),
        ("DH123456", []),
    ],
)
def test_amounts(text: str, amounts: list[int]) -> None:
    assert find_amounts(text) == amounts


def test_mask_pii() -> None:
    masked = mask_pii(
        "sđt 0912 888 678, email nguyen.van.a@gmail.com, thẻ 4111 1111 1111 9876, đơn DH123456"
    )
    assert "888" not in masked and masked.count("678") == 1
    assert "nguyen.van.a" not in masked and "@gmail.com" in masked
    assert "4111" not in masked and "9876" in masked
    assert "DH123456" in masked  # not personal data: agents grep logs by it
    assert mask_pii("không có gì") == "không có gì"
