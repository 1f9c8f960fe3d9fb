"""Order-status logic (actions/orders.py) on the shipped demo order file."""

from __future__ import annotations

from datetime import date

import pytest

from actions.orders import (
    ASK_CODE_TEXT,
    OrderDesk,
    OrderStore,
    asks_about_its_delivery,
    days_late,
    describe_order,
    has_no_order_code,
    last4_digits,
    normalize_order_code,
    reports_a_late_order,
)
from actions.settings import ActionSettings
from cskh.text import tokens


@pytest.fixture(scope="module")
def store() -> OrderStore:
    return OrderStore.load(ActionSettings().orders_file)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("đơn DH100003 đâu rồi", "DH100003"),
        ("dh100004", "DH100004"),
        ("mã ĐH 100005 nhé", "DH100005"),
        ("DH1234567", None),  # 7 digits is not an order code
        ("XDH123456", None),
        ("không có mã", None),
        (None, None),
    ],
)
def test_normalize_order_code(text: str | None, code: str | None) -> None:
    assert normalize_order_code(text) == code


def test_demo_store_has_twenty_orders(store: OrderStore) -> None:
    assert len(store) == 20
    assert store.get("dh100001") is not None and store.get("DH100020") is not None


def last4(store: OrderStore, code: str) -> str:
    order = store.get(code)
    assert order is not None and order.phone
    return order.phone[-4:]


def test_order_in_delivery_gives_carrier_tracking_and_eta(store: OrderStore) -> None:
    order = store.get("DH100003")
    assert order is not None and order.status == "dang_giao"
    text = describe_order(order)
    assert "đang được giao" in text and order.carrier in text
    assert order.tracking_number and order.tracking_number in text
    assert "Dự kiến giao" in text


def test_an_order_past_its_expected_day_is_called_late_with_an_apology(
    store: OrderStore,
) -> None:
    # "Dự kiến giao: 15/11/2026" alone, three weeks later, read as if nothing were wrong.
    order = store.get("DH100003")
    assert order is not None and order.eta == "2026-11-15"
    # due today: not late
    assert "trễ" not in describe_order(order, days_late(order, date(2026, 11, 15)))
    late = describe_order(order, days_late(order, date(2026, 11, 18)))
    assert "Đơn đã trễ 3 ngày so với dự kiến" in late and "xin lỗi" in late
    assert 'nhắn "gặp nhân viên"' in late
    delivered = store.get("DH100004")
    assert delivered is not None and "trễ" not in describe_order(
        delivered, days_late(delivered, date(2027, 1, 1)))
    desk = OrderDesk(store, today=lambda: date(2026, 12, 7))
    assert order.phone
    shown = desk.turn("DH100003", order.phone[-4:])
    assert shown.late_days == 22 and "trễ 22 ngày" in shown.text
    assert OrderDesk(store, today=lambda: date(2026, 11, 1)).turn(
        "DH100003", order.phone[-4:]).late_days == 0


@pytest.mark.parametrize(
    ("text", "about_it"),
    [
        ("khi nao giao toi vay", True),
        ("sao lau the", True),  # it got the hotline's busy hours, on "lâu hơn"
        ("cham vay shop", True),
        ("doi tra lau qua vay", False),  # how long a return takes: the help center's
    ],
)
def test_a_question_about_when_the_order_comes(text: str, about_it: bool) -> None:
    assert asks_about_its_delivery(text) is about_it


def test_delivered_order_gives_delivery_date(store: OrderStore) -> None:
    order = store.get("DH100004")
    assert order is not None
    text = describe_order(order)
    assert "đã giao thành công" in text and "Ngày giao: 13/11/2026" in text


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("5678", "5678"),
        ("4 số cuối là 0912 ạ", "0912"),
        ("sdt mình 0987654321", "4321"),
        ("sđt 0912 345 678", "5678"),
        ("+84912345678", "5678"),
        ("DH100001", None),  # the digits of an order code are not a phone
        ("123", None),
        ("năm 12345", None),
        (None, None),
    ],
)
def test_last4_digits(text: str | None, digits: str | None) -> None:
    assert last4_digits(text) == digits


def test_found_order_reveals_nothing_until_the_phone_digits_match(store: OrderStore) -> None:
    desk = OrderDesk(store)
    order = store.get("DH100003")
    assert order is not None and order.tracking_number
    asked = desk.turn("DH100003", None)
    assert asked.found and asked.verified_code is None
    assert "4 số cuối" in asked.text
    for secret in (order.carrier, order.tracking_number, *order.items):
        assert secret not in asked.text
    shown = desk.turn("DH100003", last4(store, "DH100003"), lookups=asked.lookups)
    assert shown.verified_code == "DH100003" and order.tracking_number in shown.text
    # Verified once, the same conversation asks again without the digits.
    again = desk.turn("DH100003", None, verified_code="DH100003", lookups=shown.lookups)
    assert order.tracking_number in again.text


def test_verifying_one_order_does_not_open_another(store: OrderStore) -> None:
    desk = OrderDesk(store)
    other = desk.turn("DH100004", None, verified_code="DH100003")
    assert "4 số cuối" in other.text and other.verified_code == "DH100003"


def test_three_wrong_guesses_lock_the_conversation(store: OrderStore) -> None:
    desk = OrderDesk(store, max_failures=3)
    right = last4(store, "DH100005")
    wrong = "0000" if right != "0000" else "1111"
    turn = desk.turn("DH100005", wrong)
    assert turn.failures == 1 and "còn 2 lần thử" in turn.text and turn.verified_code is None
    turn = desk.turn("DH100005", wrong, failures=turn.failures)
    turn = desk.turn("DH100005", wrong, failures=turn.failures)
    assert turn.failures == 3 and "không tra cứu được" in turn.text
    # Even the right digits are refused now: the 4th guess is not a guess.
    locked = desk.turn("DH100005", right, failures=turn.failures)
    assert locked.verified_code is None and "không tra cứu được" in locked.text


def test_wrong_guesses_from_new_conversations_lock_the_order_for_a_while(
    store: OrderStore,
) -> None:
    now = [1000.0]
    desk = OrderDesk(store, max_failures_per_order=5, window_seconds=3600, clock=lambda: now[0])
    right = last4(store, "DH100006")
    wrong = "0000" if right != "0000" else "1111"
    for _ in range(5):  # five fresh conversations, one guess each
        desk.turn("DH100006", wrong)
    assert desk.turn("DH100006", right).verified_code is None
    assert desk.turn("DH100007", last4(store, "DH100007")).verified_code == "DH100007"
    now[0] += 3601
    assert desk.turn("DH100006", right).verified_code == "DH100006"


def test_lookups_of_many_codes_are_capped(store: OrderStore) -> None:
    desk = OrderDesk(store, max_lookups=2)
    first = desk.turn("DH100001", None)
    second = desk.turn("DH999998", None, lookups=first.lookups)
    third = desk.turn("DH100002", None, lookups=second.lookups)
    assert second.lookups == ("DH100001", "DH999998")
    assert not third.found and "nhiều mã đơn" in third.text
    # A code already looked up can still be completed.
    assert "4 số cuối" in desk.turn("DH100001", None, lookups=third.lookups).text


def test_unknown_code_is_answered_honestly(store: OrderStore) -> None:
    turn = OrderDesk(store).turn("DH999999", "1234")
    assert not turn.found and "không tìm thấy đơn hàng DH999999" in turn.text


def test_no_code_asks_for_it(store: OrderStore) -> None:
    turn = OrderDesk(store).turn(None, "1234")
    assert turn.text == ASK_CODE_TEXT and not turn.found


@pytest.mark.parametrize(
    ("text", "late"),
    [
        ("đặt hôm thứ 6 mà nay thứ 4 rồi chưa thấy đâu, mình thật sự thất vọng", True),
        ("dat hang 5 ngay r chua nhan dc", True),
        ("giao chậm quá", True),
        ("đơn hàng của tôi đâu", False),
        ("kiểm tra đơn giúp mình", False),
        ("sao đơn của tôi bị huỷ vậy", False),
    ],
)
def test_a_late_order_is_told_apart_from_a_plain_look_up(text: str, late: bool) -> None:
    from cskh.text import tokens

    assert reports_a_late_order(" ".join(tokens(text))) is late


@pytest.mark.parametrize(
    ("text", "has_none"),
    [("mình không nhớ mã đơn", True), ("quên mã đơn rồi", True), ("mã đơn xem ở đâu vậy", True),
     ("mình đặt qua điện thoại nên không có mã đơn", True), ("k nhớ mã đơn hàng", True),
     ("mình không có mã giảm giá", False), ("không nhận được mã OTP", False),
     ("mã đơn DH123456 đâu rồi", False), ("đơn hàng của tôi đâu", False)],
)
def test_a_customer_without_the_code_says_so(text: str, has_none: bool) -> None:
    assert has_no_order_code(" ".join(tokens(text))) is has_none
