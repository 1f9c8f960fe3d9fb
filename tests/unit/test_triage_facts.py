"""Fact extraction and PII masking (triage.facts)."""

from __future__ import annotations

import pytest

from triage.facts import (
    extract_facts,
    find_amounts,
    find_dates,
    find_order_codes,
    find_payment_methods,
    find_phones,
    mask_pii,
)


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


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        # Another shop's format is known by the words before it, with or without marks.
        ("shop giao nham mau, ma don SM2411223", ["SM2411223"]),
        ("chưa thấy hoàn tiền, đơn 88812345", ["88812345"]),
        ("đơn hàng số #a123456 giao sai", ["A123456"]),
        ("mã vận đơn GHN12345678VN vẫn đứng im", ["GHN12345678VN"]),
        ("order id: 5551234", ["5551234"]),
        ("đơn DH123456, mã đơn SM999999", ["DH123456", "SM999999"]),  # DH123456 once
        # Not codes: quantities, prices, a phone number, digits with no order word before.
        ("đơn 2 món", []),
        ("đơn 25 triệu thì sao", []),
        ("sđt đặt đơn 0987654321", []),
        ("mình ở số 123456 đường Láng", []),
    ],
)
def test_order_codes_of_any_format_after_an_order_word(text: str, codes: list[str]) -> None:
    assert find_order_codes(text) == codes


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("đặt từ 7/11 mà giờ chưa thấy", ["7/11"]),
        ("tra hang hom 20-11-2026, nhan ngay 2/12/26", ["20/11/2026", "2/12/2026"]),
        ("hỗ trợ 24/7 không", []),  # round the clock, not the 24th of July
        ("bị trừ 1.290.000đ", []),  # dots are thousands
        ("size 39/40 hay 32/13", []),  # no such month
        ("mã DH123456", []),
    ],
)
def test_dates(text: str, dates: list[str]) -> None:
    assert find_dates(text) == dates
    assert extract_facts(text).dates == dates


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


@pytest.mark.parametrize(
    ("text", "methods"),
    [
        ("bị trừ tiền 2 lần, mình thanh toán bằng thẻ visa", ["thẻ tín dụng"]),
        ("tôi chuyển khoản rồi mà đơn vẫn báo chưa thanh toán", ["chuyển khoản"]),
        ("đã ck 500k cho shop", ["chuyển khoản"]),
        ("ship cod, trả tiền mặt cho shipper", ["COD", "tiền mặt"]),
        ("tra gop qua the tin dung", ["thẻ tín dụng", "trả góp"]),
        ("trả bằng zalo pay bị lỗi", ["ZaloPay"]),
        # "ck" is also "chồng" (husband): only next to money or a done transfer
        ("ck mình mua cho cái tai nghe", []),
        ("đơn DH123456 chưa giao", []),
    ],
)
def test_how_the_customer_paid(text: str, methods: list[str]) -> None:
    assert find_payment_methods(text) == methods
    assert extract_facts(text).payment_methods == methods
