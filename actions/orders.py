"""Order-status lookup (plain logic, no Rasa import).

The demo store is a JSON file of fictional orders (`actions/data/orders.json`); a real shop
replaces `OrderStore` with a client of its order API, the reply texts stay the same.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

# "DH123456", "dh 123456", "ĐH123456" (customers type the Vietnamese Đ too).
_ORDER_CODE = re.compile(r"(?<![A-Za-z0-9])[DdĐđ][Hh]\s?(\d{6})(?!\d)")

STATUS_TEXT = {
    "cho_xac_nhan": "đang chờ shop xác nhận",
    "dang_chuan_bi": "đã được xác nhận và đang được đóng gói",
    "dang_giao": "đang được giao",
    "da_giao": "đã giao thành công",
    "da_huy": "đã bị hủy",
    "hoan_tra": "đang được xử lý hoàn trả",
}


@dataclass(frozen=True)
class Order:
    code: str
    status: str
    items: tuple[str, ...]
    carrier: str
    placed_at: str
    eta: str | None = None
    delivered_at: str | None = None
    tracking_number: str | None = None

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Order:
        return cls(
            code=str(row["code"]).upper(),
            status=str(row["status"]),
            items=tuple(row.get("items", ())),
            carrier=str(row.get("carrier", "")),
            placed_at=str(row.get("placed_at", "")),
            eta=row.get("eta"),
            delivered_at=row.get("delivered_at"),
            tracking_number=row.get("tracking_number"),
        )


def normalize_order_code(text: str | None) -> str | None:
    """The first order code in `text`, as "DH123456", or None."""
    if not text:
        return None
    match = _ORDER_CODE.search(text)
    return f"DH{match.group(1)}" if match else None


def _vn_date(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return date.fromisoformat(iso).strftime("%d/%m/%Y")
    except ValueError:
        return iso


class OrderStore:
    def __init__(self, orders: dict[str, Order]) -> None:
        self._orders = orders

    @classmethod
    def load(cls, path: Path) -> OrderStore:
        data = json.loads(path.read_text(encoding="utf-8"))
        orders = [Order.from_json(row) for row in data["orders"]]
        return cls({o.code: o for o in orders})

    def get(self, code: str) -> Order | None:
        return self._orders.get(code.upper())

    def __len__(self) -> int:
        return len(self._orders)


ASK_CODE_TEXT = (
    "Dạ anh/chị cho em xin mã đơn hàng (dạng DH + 6 chữ số, ví dụ DH123456 — có trong tin "
    "nhắn hoặc email xác nhận đơn) để em tra cứu ngay nhé."
)


def describe_order(order: Order) -> str:
    status = STATUS_TEXT.get(order.status, order.status)
    items = ", ".join(order.items)
    lines = [f"Dạ đơn hàng {order.code} ({items}) {status}."]
    if order.status == "dang_giao":
        lines.append(
            f"Đơn vị vận chuyển: {order.carrier}"
            + (f", mã vận đơn {order.tracking_number}" if order.tracking_number else "")
            + "."
        )
    if order.status in ("cho_xac_nhan", "dang_chuan_bi", "dang_giao") and order.eta:
        lines.append(f"Dự kiến giao: {_vn_date(order.eta)}.")
    if order.status == "da_giao" and order.delivered_at:
        lines.append(f"Ngày giao: {_vn_date(order.delivered_at)}.")
    if order.status == "da_huy":
        lines.append("Nếu anh/chị đã thanh toán trước, tiền sẽ được hoàn theo chính sách hủy đơn.")
    return " ".join(lines)


def order_status_reply(store: OrderStore, code: str | None) -> tuple[str, bool]:
    """(reply text, found). With no code, asks for it (found is False)."""
    if not code:
        return ASK_CODE_TEXT, False
    order = store.get(code)
    if order is None:
        return (
            f"Dạ em không tìm thấy đơn hàng {code} trong hệ thống ạ. Anh/chị kiểm tra lại giúp "
            "em mã đơn (DH + 6 chữ số, trong tin nhắn hoặc email xác nhận), hoặc nhắn \"gặp "
            "nhân viên\" để được hỗ trợ trực tiếp nhé.",
            False,
        )
    return describe_order(order), True
