"""Order-status logic (actions/orders.py) on the shipped demo order file."""

from __future__ import annotations

import pytest

from actions.orders import ASK_CODE_TEXT, OrderStore, normalize_order_code, order_status_reply
from actions.settings import ActionSettings


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


def test_order_in_delivery_gives_carrier_tracking_and_eta(store: OrderStore) -> None:
    text, found = order_status_reply(store, "DH100003")
    assert found
    order = store.get("DH100003")
    assert order is not None and order.status == "dang_giao"
    assert "đang được giao" in text and order.carrier in text
    assert order.tracking_number and order.tracking_number in text
    assert "Dự kiến giao" in text


def test_delivered_order_gives_delivery_date(store: OrderStore) -> None:
    text, found = order_status_reply(store, "DH100004")
    assert found and "đã giao thành công" in text and "Ngày giao: 13/11/2026" in text


def test_unknown_code_is_answered_honestly(store: OrderStore) -> None:
    text, found = order_status_reply(store, "DH999999")
    assert not found and "không tìm thấy đơn hàng DH999999" in text


def test_no_code_asks_for_it(store: OrderStore) -> None:
    assert order_status_reply(store, None) == (ASK_CODE_TEXT, False)
