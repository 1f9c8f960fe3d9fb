"""Facts an agent needs from a conversation (order codes, phones, e-mails, products, amounts,
dates) and PII masking for logs.

Everything is regular expressions over the text as typed (plus its folded form for product
names), so it is fast, deterministic and works without diacritics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cskh.text import fold

ORDER_CODE = re.compile(r"(?<![A-Za-z0-9])DH[\s\-_.#:]?(\d{6})(?!\d)", re.IGNORECASE)
# Codes in another shop's format ("SM2411223", "#A123456", "88812345", a courier's waybill)
# are known by the words before them: "mã đơn", "đơn hàng", "đơn", "mã vận đơn", "order",
# typed with or without marks. At least 5 digits: "đơn 2 món", "đơn 25 triệu" are not codes.
LABELLED_ORDER_CODE = re.compile(
    r"(?<![\w])(?:m[aã]\s+(?:v[aậ]n\s+)?[đd][oơ]n(?:\s+h[aà]ng)?|[đd][oơ]n(?:\s+h[aà]ng)?"
    r"|order(?:\s+id)?)(?:\s+(?:s[oố]|l[aà]|c[uủ]a\s+\w+))?\s*[:#]?\s*#?"
    r"([A-Za-z]{0,4}\d{5,14}[A-Za-z]{0,3})(?![\w])",
    re.IGNORECASE,
)
# Dates as customers write them: "7/11", "28-11", "20/11/2026" (dots are thousands: "1.200").
DATE = re.compile(r"(?<![\w/.\-])(\d{1,2})[/\-](\d{1,2})(?:[/\-](\d{4}|\d{2}))?(?![\w/\-])")

# Vietnamese phone numbers: 0 or +84/84 prefix, then 9 digits (mobile 3/5/7/8/9x, landline
# 2xx), digits possibly grouped by spaces, dots or dashes ("0912 345 678", "+84 912.345.678",
# "(+84) 912345678"). The lookarounds keep order codes and long card numbers out.
_SEP = r"[\s.\-]?"
PHONE = re.compile(
    r"(?<![\w+])(?:\(?\+?84\)?[\s.\-]?|0)"
    r"([35789]\d(?:" + _SEP + r"\d){7}|2(?:" + _SEP + r"\d){9})"
    r"(?![\d])"
)
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Long digit runs (card / account numbers) are masked in logs too.
LONG_DIGITS = re.compile(r"(?<!\d)(?:\d[\s\-]?){12,18}\d(?!\d)")

# Amounts: "500k", "1.200.000đ", "1,2 triệu", "2tr", "300 nghìn", "150.000 VND", "2 củ".
AMOUNT = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:[.,]\d{3})+|\d+(?:[.,]\d+)?)\s?"
    r"(k|nghìn|nghin|ngàn|ngan|tr|triệu|trieu|củ|cu|m|đ|d|đồng|dong|vnd|vnđ)(?![\w])",
    re.IGNORECASE,
)
_MULTIPLIER = {
    "k": 1_000, "nghìn": 1_000, "nghin": 1_000, "ngàn": 1_000, "ngan": 1_000,
    "tr": 1_000_000, "triệu": 1_000_000, "trieu": 1_000_000, "củ": 1_000_000, "cu": 1_000_000,
    "m": 1_000_000, "đ": 1, "d": 1, "đồng": 1, "dong": 1, "vnd": 1, "vnđ": 1,
}

# How the customer paid, which decides where a refund or a double charge is chased: folded
# patterns, in the order the summary names them. "ck" alone is also "chồng" (husband) in
# teencode: it counts next to money or a done transfer only.
PAYMENT_METHODS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])"))
    for label, pattern in (
        ("chuyển khoản", r"chuyen khoan|chuyen tien|internet banking|banking|vietqr|quet qr"
                         r"|ck (?:roi|xong|cho shop|tien|qua|\d)|da ck|(?:\d+k?|tien) ck"),
        ("COD", r"cod|thanh toan khi nhan(?: hang)?|tra tien khi nhan(?: hang)?"),
        ("tiền mặt", r"tien mat"),
        ("thẻ tín dụng", r"the tin dung|visa|mastercard|master card|jcb|credit card"),
        ("thẻ ATM", r"the atm|atm|the noi dia|napas|the ghi no"),
        ("MoMo", r"momo|vi momo"),
        ("ZaloPay", r"zalopay|zalo pay"),
        ("VNPay", r"vnpay|vn pay"),
        ("ShopeePay", r"shopeepay|shopee pay"),
        ("trả góp", r"tra gop"),
    )
)


def _folded_words(text: str) -> str:
    """`text` folded, its words joined by single spaces (no punctuation)."""
    return " ".join(re.findall(r"[a-z0-9]+", fold(text)))


def find_payment_methods(text: str) -> list[str]:
    folded = _folded_words(text)
    return [label for label, pattern in PAYMENT_METHODS if pattern.search(folded)]


# A small catalogue of product words of a typical Vietnamese online shop (folded). A shop
# can pass its own list; the heuristic below also catches "sản phẩm X" / "cái X".
DEFAULT_PRODUCTS = (
    "tai nghe", "dien thoai", "op lung", "sac du phong", "cap sac", "cu sac", "ban phim",
    "chuot", "man hinh", "laptop", "may tinh bang", "dong ho", "loa", "tivi", "tu lanh",
    "may giat", "dieu hoa", "noi chien", "noi com", "may xay", "may hut bui", "robot lau nha",
    "quat", "am sieu toc", "binh giu nhiet", "ao", "ao khoac", "quan jean", "chan vay",
    "giay the thao", "balo", "kinh mat", "my pham", "kem chong nang", "son moi", "nuoc hoa",
    "sua rua mat", "do choi", "sua bot", "ke bep", "may ep", "camera",
)
_PRODUCT_HEAD = re.compile(
    r"(?<![a-z])(?:san pham|mon hang|mat hang|cai|chiec|doi|bo|hop|chai|tuyp)\s+"
    r"((?:[a-z0-9]+\s?){1,3})"
)
# Words that end a product phrase ("cái áo bị rách" -> "ao"), among them the degree and
# state words a defect report puts right after the thing ("cái nút nguồn hơi lỏng", "cái
# quạt hỏng", "chiếc áo rách"); "nứt" (cracked) is left out, it folds to "nút" (button).
_STOP = {
    "bi", "da", "cua", "minh", "toi", "em", "nay", "do", "kia", "ma", "thi", "la", "va", "voi",
    "khong", "ko", "chua", "roi", "o", "tu", "cho", "den", "giao", "nhan", "mua", "dat", "nhe",
    "a", "nha", "nhung", "van", "con", "hay", "rat", "qua", "lam", "sao", "gi", "vay", "duoc",
    "hoi", "kha", "hong", "hu", "loi", "rach", "vo", "mop", "be",
}


@dataclass
class Facts:
    order_codes: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    amounts: list[int] = field(default_factory=list)  # in VND
    dates: list[str] = field(default_factory=list)  # as "d/m" or "d/m/yyyy"
    payment_methods: list[str] = field(default_factory=list)  # labels of PAYMENT_METHODS

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_codes": list(self.order_codes), "phones": list(self.phones),
            "emails": list(self.emails), "products": list(self.products),
            "amounts": list(self.amounts), "dates": list(self.dates),
            "payment_methods": list(self.payment_methods),
        }

    def merge(self, other: Facts) -> Facts:
        return Facts(
            _unique([*self.order_codes, *other.order_codes]),
            _unique([*self.phones, *other.phones]),
            _unique([*self.emails, *other.emails]),
            _unique([*self.products, *other.products]),
            _unique([*self.amounts, *other.amounts]),
            _unique([*self.dates, *other.dates]),
            _unique([*self.payment_methods, *other.payment_methods]),
        )

    def is_empty(self) -> bool:
        return not (self.order_codes or self.phones or self.emails or self.products
                    or self.amounts or self.dates or self.payment_methods)


def _unique(items: Iterable[Any]) -> list[Any]:
    seen: dict[Any, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def normalize_phone(digits: str) -> str:
    """"912.345.678" (after the prefix) -> "0912345678"."""
    return "0" + re.sub(r"\D", "", digits)


def find_order_codes(text: str) -> list[str]:
    """The shop's own "DH123456" anywhere, and codes of any other format after "mã đơn",
    "đơn hàng", "order"... (upper case). A phone number after "đơn" is a phone, not a code."""
    codes = [f"DH{m.group(1)}" for m in ORDER_CODE.finditer(text)]
    for m in LABELLED_ORDER_CODE.finditer(text):
        code = m.group(1).upper()
        if not PHONE.fullmatch(code) and not ORDER_CODE.fullmatch(code):
            codes.append(code)
    return _unique(codes)


def find_dates(text: str) -> list[str]:
    """Calendar dates ("đặt từ 7/11", "hôm 20-11-2026") as "7/11", "20/11/2026"; "24/7"
    (round the clock) and impossible days or months are not dates."""
    out = []
    for m in DATE.finditer(text):
        day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
        if not (1 <= day <= 31 and 1 <= month <= 12) or (day, month, year) == (24, 7, None):
            continue
        if year is not None and len(year) == 2:
            year = f"20{year}"
        out.append(f"{day}/{month}" + (f"/{year}" if year else ""))
    return _unique(out)


def find_phones(text: str) -> list[str]:
    text = ORDER_CODE.sub(" ", text)  # "DH091234" must not look like a phone
    return _unique(normalize_phone(m.group(1)) for m in PHONE.finditer(text))


def parse_amount(number: str, unit: str) -> int | None:
    unit = unit.lower()
    mult = _MULTIPLIER.get(unit)
    if mult is None:
        return None
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", number):
        # Groups of three after a separator are thousands ("1.200.000đ", "1,200k").
        value = float(re.sub(r"[.,]", "", number))
    else:
        value = float(number.replace(",", "."))  # decimal comma: "1,5 triệu"
    amount = round(value * mult)
    # A bare "5 d" is probably not money; tiny sums without a k/tr unit are noise.
    return amount if amount >= 1_000 else None


def find_amounts(text: str) -> list[int]:
    out = []
    for m in AMOUNT.finditer(ORDER_CODE.sub(" ", text)):
        value = parse_amount(m.group(1), m.group(2))
        if value is not None:
            out.append(value)
    return _unique(out)


def find_products(text: str, products: Sequence[str] = DEFAULT_PRODUCTS) -> list[str]:
    folded = _folded_words(text)
    found: list[str] = []
    # Longest catalogue names first so "ao khoac" wins over "ao".
    for name in sorted(products, key=len, reverse=True):
        if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", folded) and not any(
            name in f for f in found
        ):
            found.append(name)
    for m in _PRODUCT_HEAD.finditer(folded):
        words = []
        for word in m.group(1).split():
            if word in _STOP:
                break
            words.append(word)
        phrase = " ".join(words)
        if phrase and not any(phrase in f or f in phrase for f in found):
            found.append(phrase)
    return found


def extract_facts(text: str, products: Sequence[str] = DEFAULT_PRODUCTS) -> Facts:
    return Facts(
        order_codes=find_order_codes(text),
        phones=find_phones(text),
        emails=_unique(m.group(0).lower() for m in EMAIL.finditer(text)),
        products=find_products(text, products),
        amounts=find_amounts(text),
        dates=find_dates(text),
        payment_methods=find_payment_methods(text),
    )


def _mask_keep(s: str, keep_end: int) -> str:
    digits = [c for c in s if c.isdigit()]
    keep = len(digits) - keep_end
    out, seen = [], 0
    for c in s:
        if c.isdigit():
            out.append(c if seen >= keep or seen == 0 else "*")
            seen += 1
        else:
            out.append(c)
    return "".join(out)


def mask_pii(text: str) -> str:
    """The text with phones, e-mails and long card/account numbers masked, for logs.

    Phones keep their first and last 3 digits ("0912345678" -> "0******678") so an agent
    can still match a log line with a customer; e-mails keep the first letter and domain.
    Order codes are not personal data and stay readable.
    """
    text = EMAIL.sub(lambda m: _mask_email(m.group(0)), text)
    text = LONG_DIGITS.sub(lambda m: re.sub(r"\d", "*", m.group(0)[:-4]) + m.group(0)[-4:],
                           text)
    return PHONE.sub(lambda m: _mask_keep(m.group(0), 3), text)


def _mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
