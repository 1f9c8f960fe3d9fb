"""Order-status lookup (plain logic, no Rasa import).

The demo store is a JSON file of fictional orders (`actions/data/orders.json`); a real shop
replaces `OrderStore` with a client of its order API, the reply texts stay the same.

An order code is printed on parcels and forwarded in screenshots, so knowing one proves
nothing: before telling more than "found", the bot asks for the last 4 digits of the phone
number the order was placed with (`OrderDesk`). Wrong guesses are counted per conversation
and per order, so nobody can try the 10 000 combinations.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
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
    phone: str | None = None

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
            phone=row.get("phone"),
        )


def normalize_order_code(text: str | None) -> str | None:
    """The first order code in `text`, as "DH123456", or None."""
    if not text:
        return None
    match = _ORDER_CODE.search(text)
    return f"DH{match.group(1)}" if match else None


# A run of digits, allowing the single spaces or dots people group phone numbers with
# ("0912 345 678", "091.234.5678"). Digits glued to letters ("DH100001") are not a run.
_DIGIT_RUN = re.compile(r"(?<![\dA-Za-z])\+?\d(?:\d|[ .](?=\d))*(?!\d)")


def last4_digits(text: str | None) -> str | None:
    """The last 4 digits of a phone number given in `text` (the 4 digits alone, or the
    whole number), or None."""
    for run in _DIGIT_RUN.findall(text or ""):
        digits = re.sub(r"\D", "", run)
        if len(digits) == 4:
            return digits
        if 10 <= len(digits) <= 11 and digits.startswith(("0", "84")):
            return digits[-4:]
    return None


# "khi nào giao tới?", "bao giờ nhận được hàng", "giao chưa vậy": asked right after the bot
# showed an order, the question is about that order, not the help center's delivery times.
_ASKS_WHEN = re.compile(
    r"\b(?:khi nao|bao gio|bao lau|may ngay|may hom|hom nao|ngay nao|chua|den dau|toi dau"
    r"|o dau|sao roi|the nao roi)\b"
)
_ABOUT_DELIVERY = re.compile(r"\b(?:giao|toi|den|nhan|ship|ve|hang|don)\b")


# "sao lâu thế", "chậm vậy shop": nothing but its slowness, said of the order just shown (it
# got the hotline's busy hours, on "lâu hơn").
_ONLY_SLOW = re.compile(
    r"^(?:sao |gi |lam gi )?(?:ma )?(?:lau|cham|tre)(?: (?:the|vay|qua|ghe|nhi|ta|luon|vl"
    r"|the nay|nhu vay|shop|admin|a|roi))*$"
)


def asks_about_its_delivery(folded_text: str) -> bool:
    """True for "khi nào giao tới vậy", "bao giờ nhận được hàng", "đơn tới đâu rồi", "sao lâu
    thế" (folded, teencode expanded): a question about when or where an order is."""
    return bool(
        (_ASKS_WHEN.search(folded_text) and _ABOUT_DELIVERY.search(folded_text))
        or _ONLY_SLOW.match(folded_text.strip())
    )


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
    "Dạ $kh cho $em xin mã đơn hàng (dạng DH + 6 chữ số, ví dụ DH123456 — có trong tin "
    "nhắn hoặc email xác nhận đơn) để $em tra cứu ngay nhé."
)
# A customer telling of an order that has not come ("đặt từ thứ 6 mà nay thứ 4 rồi chưa thấy
# đâu, ... mình thật sự thất vọng") hears that first, then the request for the code: the
# bare request read as indifference.
LATE_ORDER_ASK_CODE_TEXT = (
    "Dạ $em rất tiếc vì đơn hàng của $kh chưa đến như dự kiến. $Kh cho $em xin mã đơn hàng "
    "(dạng DH + 6 chữ số, ví dụ DH123456 — có trong tin nhắn hoặc email xác nhận đơn) để $em "
    "kiểm tra ngay nhé."
)
# "mình không nhớ mã đơn", "quên mã đơn rồi", "mã đơn xem ở đâu": asked for the code, the
# customer does not have it (the search answered with the transfer note's syntax, on "mã
# đơn"); a person can find the order by the phone number it was placed with.
NO_CODE_TEXT = (
    "Dạ không sao ạ. Mã đơn có trong tin nhắn hoặc email xác nhận gửi cho $kh ngay sau khi "
    "đặt. Nếu không tìm thấy, $kh bấm \"Gặp nhân viên\" để nhân viên tìm đơn theo số điện "
    "thoại đặt hàng nhé."
)
_NO_CODE = re.compile(
    r"\b(?:(?:khong|ko|k|hong|chua|cha) (?:nho|biet|thay|co|tim thay|tim duoc|luu|giu)"
    r"|quen|mat|lam mat|xoa)(?: \w+){0,2} ma (?:don|van don)\b"
    r"|\bma (?:don|van don)(?: hang)?(?: (?:cua )?(?:minh|em|toi|tui))?(?: (?:xem|lay|tim|nam"
    r"|kiem))? (?:o dau|cho nao|cho nao vay|la gi)\b"
)


def has_no_order_code(folded_text: str) -> bool:
    """True for "mình không nhớ mã đơn", "quên mã đơn rồi", "mã đơn xem ở đâu" (folded,
    teencode expanded): the customer cannot give the order's code."""
    return bool(_NO_CODE.search(folded_text))


_NOT_HERE_YET = re.compile(
    r"\bchua (?:nhan|giao|thay|toi|den|ve|co hang)\b"
    r"|\b(?:khong|ko|k) (?:nhan duoc hang|thay hang|thay don)\b"
    r"|\b(?:giao|ship|hang|don) (?:cham|lau|tre)\b|\btre hen\b"
    r"|\bqua (?:han|ngay) (?:giao|du kien)\b"
)


def reports_a_late_order(folded_text: str) -> bool:
    """True for "đặt từ thứ 6 mà giờ chưa thấy đâu", "giao chậm quá" (folded, teencode
    expanded): the order has not come when it should have."""
    return bool(_NOT_HERE_YET.search(folded_text))


# Vietnam keeps one offset all year: the shop's calendar day, without a tz database.
_VIETNAM = timezone(timedelta(hours=7))
_UNDELIVERED = ("cho_xac_nhan", "dang_chuan_bi", "dang_giao")


def shop_today() -> date:
    return datetime.now(_VIETNAM).date()


def days_late(order: Order, today: date) -> int:
    """Days past the expected delivery date of an order that has not arrived (0: not late)."""
    if order.status not in _UNDELIVERED or not order.eta:
        return 0
    try:
        return max((today - date.fromisoformat(order.eta)).days, 0)
    except ValueError:
        return 0


# The help center: past the expected day, a person takes it up with the carrier ("Đơn hàng
# giao chậm so với dự kiến"). The bare status ("Dự kiến giao: 15/11") to a customer whose
# parcel was three weeks late read as if nothing were wrong.
def late_text(days: int) -> str:
    return (
        f"Đơn đã trễ {days} ngày so với dự kiến, $em thành thật xin lỗi $kh. $Kh nhắn \"gặp "
        "nhân viên\" để nhân viên làm việc với đơn vị vận chuyển và phản hồi $kh sớm nhất nhé."
    )


def describe_order(order: Order, late_days: int = 0) -> str:
    """The order's status for its owner; an apology when it is `late_days` late."""
    status = STATUS_TEXT.get(order.status, order.status)
    items = ", ".join(order.items)
    lines = [f"Dạ đơn hàng {order.code} ({items}) {status}."]
    if order.status == "dang_giao":
        lines.append(
            f"Đơn vị vận chuyển: {order.carrier}"
            + (f", mã vận đơn {order.tracking_number}" if order.tracking_number else "")
            + "."
        )
    if order.status in _UNDELIVERED and order.eta:
        lines.append(f"Dự kiến giao: {_vn_date(order.eta)}.")
        if late_days:
            lines.append(late_text(late_days))
    if order.status == "da_giao" and order.delivered_at:
        lines.append(f"Ngày giao: {_vn_date(order.delivered_at)}.")
    if order.status == "da_huy":
        lines.append("Nếu $kh đã thanh toán trước, tiền sẽ được hoàn theo chính sách hủy đơn.")
    return " ".join(lines)


def not_found_text(code: str) -> str:
    return (
        f"Dạ $em không tìm thấy đơn hàng {code} trong hệ thống ạ. $Kh kiểm tra lại giúp "
        "$em mã đơn (DH + 6 chữ số, trong tin nhắn hoặc email xác nhận), hoặc nhắn \"gặp "
        "nhân viên\" để được hỗ trợ trực tiếp nhé."
    )


def ask_last4_text(code: str) -> str:
    return (
        f"Dạ $em đã tìm thấy đơn hàng {code}. Để bảo vệ thông tin đơn hàng của $kh, $kh "
        "cho $em xin 4 số cuối của số điện thoại đặt đơn này ạ."
    )


def wrong_last4_text(code: str, tries_left: int) -> str:
    return (
        f"Dạ 4 số cuối này chưa khớp với số điện thoại đặt đơn {code} ạ. $Kh kiểm tra lại "
        f"giúp $em (còn {tries_left} lần thử), hoặc nhắn \"gặp nhân viên\" để được hỗ trợ nhé."
    )


def locked_text(code: str) -> str:
    return (
        f"Dạ vì lý do bảo mật, $em tạm thời không tra cứu được đơn {code} qua chat ạ. $Kh "
        "nhắn \"gặp nhân viên\" để nhân viên xác minh và hỗ trợ $kh nhé."
    )


TOO_MANY_LOOKUPS_TEXT = (
    "Dạ $kh đã tra cứu nhiều mã đơn trong cuộc trò chuyện này rồi ạ. Để bảo vệ thông tin "
    "khách hàng, $kh nhắn \"gặp nhân viên\" để được hỗ trợ tiếp nhé."
)


@dataclass(frozen=True)
class OrderTurn:
    """What the bot says about an order this turn, and what the conversation remembers."""

    text: str
    code: str | None
    found: bool
    # The order the customer has proved is theirs in this conversation (or None).
    verified_code: str | None
    failures: int
    lookups: tuple[str, ...]
    late_days: int = 0  # the order shown is this many days past its expected delivery


@dataclass
class OrderDesk:
    """Order look-ups with ownership checks.

    Per conversation (the caller keeps `verified_code`, `failures` and `lookups` between
    turns): `max_failures` wrong guesses, `max_lookups` different codes. Per order, across
    conversations in this process: `max_failures_per_order` wrong guesses per
    `window_seconds`, so opening new conversations does not reset the count.
    """

    store: OrderStore
    max_failures: int = 3
    max_lookups: int = 5
    max_failures_per_order: int = 5
    window_seconds: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    today: Callable[[], date] = shop_today
    _order_failures: dict[str, deque[float]] = field(default_factory=dict)

    def turn(
        self,
        code: str | None,
        last4: str | None,
        *,
        verified_code: str | None = None,
        failures: int = 0,
        lookups: tuple[str, ...] = (),
    ) -> OrderTurn:
        said = OrderTurn(ASK_CODE_TEXT, code, False, verified_code, failures, lookups)
        if not code:
            return said
        if code not in lookups:
            if len(lookups) >= self.max_lookups:
                return replace(said, text=TOO_MANY_LOOKUPS_TEXT)
            said = replace(said, lookups=(*lookups, code))
        order = self.store.get(code)
        if order is None:
            return replace(said, text=not_found_text(code))
        said = replace(said, found=True)
        if verified_code == code:
            return self._shown(said, order)
        if failures >= self.max_failures or self._order_locked(code):
            return replace(said, text=locked_text(code))
        if not last4:
            return replace(said, text=ask_last4_text(code))
        if order.phone and order.phone[-4:] == last4:
            return self._shown(replace(said, verified_code=code), order)
        failures += 1
        self._order_failures.setdefault(code, deque()).append(self.clock())
        if failures >= self.max_failures or self._order_locked(code):
            return replace(said, text=locked_text(code), failures=failures)
        tries_left = self.max_failures - failures
        return replace(said, text=wrong_last4_text(code, tries_left), failures=failures)

    def _shown(self, said: OrderTurn, order: Order) -> OrderTurn:
        late = days_late(order, self.today())
        return replace(said, text=describe_order(order, late), late_days=late)

    def _order_locked(self, code: str) -> bool:
        recent = self._order_failures.get(code)
        if not recent:
            return False
        horizon = self.clock() - self.window_seconds
        while recent and recent[0] < horizon:
            recent.popleft()
        return len(recent) >= self.max_failures_per_order
