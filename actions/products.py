"""Is a message a question about one product (stock, price, specs, advice)?

A help center has no answer to "iphone 15 pro max còn hàng không": the search still finds
its nearest passage ("còn nguyên tem", the returns policy) and a wrong article is worse
than saying so. The NLU's `product_question` intent alone was measured to take 21 of 347
help-center questions ("dùng 2 mã giảm giá cùng lúc được không", "Phí giao hỏa tốc bao
nhiêu"): its word n-grams cannot tell "giá bao nhiêu" of a fridge from "phí bao nhiêu" of a
delivery. So the product reply needs this rule too, and only when the help center has no
confident answer (`actions.actions.ActionAnswerFaq`).

The rule: something a product question asks (is it in stock, what does it cost, which one
to buy, what can it do, do you sell it) about something that is a product (a product word,
a brand, a model code), and no word of a policy the help center covers (delivery, warranty,
returns, instalments, vouchers...).
"""

from __future__ import annotations

import re

from cskh.text import tokens
from triage.facts import DEFAULT_PRODUCTS

# Folded brands and product families customers name instead of the product word.
BRANDS = frozenset(
    """iphone ip ipad macbook airpods apple samsung ss galaxy xiaomi redmi oppo vivo realme
    nokia sony lg panasonic toshiba sharp electrolux daikin casper aqua hitachi philips
    dell hp asus acer lenovo msi jbl marshall garmin huawei honor karofi kangaroo sunhouse
    ecovacs dyson bosch tcl coocaa midea ps5 playstation nintendo switch""".split()
)
# More product words than triage's catalogue, which was written for complaints.
PRODUCT_WORDS = (
    *DEFAULT_PRODUCTS, "may loc nuoc", "may loc khong khi", "may hut am", "may say",
    "may rua bat", "may pha ca phe", "quat dieu hoa", "may tinh", "may anh", "o cung", "ram",
    "tablet", "smartwatch", "tu dong", "lo vi song", "bep tu", "may nuoc nong",
    # the south's word for "điều hòa"
    "may lanh",
)
_PRODUCT = re.compile(
    r"\b(?:" + "|".join(sorted((re.escape(p) for p in PRODUCT_WORDS), key=len, reverse=True))
    + r")\b"
)
# "mẫu này", "cái này": the product the customer is looking at.
_THIS_ONE = re.compile(r"\b(?:mau|cai|con|chiec|san pham) nay\b")
# A model code: letters and digits in one word ("s24", "a55", "wh1000xm5", "12000btu").
_MODEL_CODE = re.compile(r"\b(?=[a-z]*\d)(?=\d*[a-z])[a-z0-9]{2,}\b")

_ASKS = re.compile(
    r"\b(?:"
    # in stock
    r"con hang|het hang chua|co hang lai|co hang chua|bao gio co hang|khi nao co hang"
    r"|ve hang|hang ve|con (?:mau|size|sz|ban|phien ban|loai)|con (?:\w+ ){0,4}khong"
    # price
    r"|gia (?:\w+ ){0,5}(?:bao nhieu|nhieu|bn|sao|the nao)|bao nhieu tien"
    # which one to buy
    r"|tu van|nen mua|nen chon|so sanh|(?:loai|cai|con|mau|hang) nao (?:tot|ben|on|ok|hon)"
    # "tủ lạnh nào tiết kiệm điện" (it got the free-installation list)
    r"|nao(?: chay| xai| dung)? (?:tiet kiem|tot|ben|re|dep|manh|em|nhe|mat)|tiet kiem dien"
    r"|co (?:loai|mau|dong) (?:\w+ ){0,4}nao|hay hon|tot hon|cho phong|bao nhieu m2"
    # what it can do
    r"|co (?:chong nuoc|ho tro|nang cap)|cong suat|dung luong|cau hinh|bao nhieu (?:w|mah|inch)"
    # what comes with it ("mua điện thoại có tặng ốp ko", it got the OTP article on "ốp")
    r"|co tang(?: kem)? (?:\w+ ){0,3}(?:khong|ko|k|hong|gi)|tang kem|qua (?:tang )?kem"
    # do you sell it
    r"|co ban|ban (?:may|loai|mau)"
    r")\b"
)
# Words of the policies a help center answers: a product named in such a question is the
# subject of the policy ("máy giặt giao tầng 4 có tốn thêm tiền không"), not the question.
_POLICY = re.compile(
    r"\b(?:ship|van chuyen|giao|lap dat|bao hanh|doi|tra hang|tra lai|hoan|tra gop|gop"
    r"|ma giam gia|voucher|giam gia|freeship|diem|hang thanh vien|hoa don|vat|thanh toan"
    r"|showroom|don hang|don|coc|dat truoc|lap(?! trinh)|xach tay|hang nhai"
    # "hàng giả" (fakes), not "chính hãng giá bao nhiêu"
    r"|hang gia(?! (?:bao nhieu|nhieu|bn|sao|the nao)))\b"
)


def asks_about_a_product(text: str) -> bool:
    """True for "iphone 15 pro max còn hàng không", "tủ lạnh Samsung 300 lít giá bao nhiêu",
    "tư vấn giúp mình laptop tầm 15 triệu"; False for the help center's questions."""
    folded = " ".join(tokens(text))
    if not _ASKS.search(folded) or _POLICY.search(folded):
        return False
    words = set(folded.split())
    return bool(
        _PRODUCT.search(folded) or words & BRANDS or _MODEL_CODE.search(folded)
        or _THIS_ONE.search(folded)
    )
