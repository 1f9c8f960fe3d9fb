"""Hybrid search: dense e5 similarity plus an accent-folded lexical score.

Dense vectors understand paraphrase ("tiền ship" ~ "phí vận chuyển") but degrade on text
without diacritics or in teencode; the lexical side compares folded, teencode-expanded tokens
and bigrams, which is exactly where the dense side is weak. Each side is computed over every
passage (a help center has hundreds to a few thousand), then blended.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

import numpy as np

from cskh.diacritics import DiacriticRestorer, everyday_texts
from cskh.text import (
    asks_what_about,
    bigrams,
    expand_teencode,
    fold,
    has_diacritics,
    normalize,
    tokens,
)
from knowledge_base.embedders import Embedder, load_embedder
from knowledge_base.index import load_index, read_manifest
from knowledge_base.ingest import Passage

# Folded function words that carry no topic; they would otherwise dilute coverage. Words whose
# folded form is ambiguous with a topic word are kept out ("ma" is also "mã", "the" is "thẻ",
# "ha" starts "Hà Nội").
STOPWORDS = frozenset(
    """a ah ak anh ban bi cac cai cho chi cua dang duoc em gi gium giup hay hoi khi la len luc
    minh mot nao ne neu nha nhe nhi nhung oi roi sao se shop thi toi va vay vao voi vui xin
    admin ad""".split()
)


@dataclass(frozen=True)
class SearchConfig:
    # Weights and the dense rescaling range were chosen on the retrieval eval set
    # (`cskh eval kb`); e5 cosine similarities live in a narrow band near 0.75-0.92.
    dense_weight: float = 0.55
    dense_floor: float = 0.75
    dense_ceiling: float = 0.95
    title_boost: float = 1.5
    # Embed a query typed without marks once more with the marks put back, against the
    # passages as written (cskh/diacritics.py): recall@1 on our questions typed without marks
    # 0.831 -> 0.892, in teencode 0.825 -> 0.900 (`cskh eval kb` prints the search without it).
    restore_diacritics: bool = True
    # A follow-up ("bao lâu vậy?", "còn ở Sài Gòn?") is searched together with the question
    # before it: a passage scores the weighted mean of its score for the message (1) and for
    # that question (this weight). Chosen among 0.3, 0.5 and 1.0 on
    # knowledge_base/eval/follow_ups.jsonl: 0.3 answered fewer follow-ups, 1.0 no more than
    # 0.5 and pulled one more change of subject back. `cskh eval kb` prints this weight on
    # that set and on follow_ups_heldout.jsonl, which checks the choice.
    context_weight: float = 0.5
    # A follow-up that opens with "còn" ("còn đi tỉnh thì sao?", "thế còn tủ lạnh?") asks the
    # question before again about something else, and says little more than that something:
    # the question before counts this much instead. Chosen among 1, 2, 4 and 8 on
    # follow_ups.jsonl (the smallest with the most follow-ups answered); `cskh eval kb` prints
    # it there and on follow_ups_heldout.jsonl.
    what_about_context_weight: float = 4.0


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    section: str
    url: str
    text: str
    score: float
    dense: float
    lexical: float
    # The score once the words of a query typed without marks are read as the search
    # restored them ("doi hang" -> "đổi hàng"): a passage that matched only by another
    # spelling ("đổi hạng", membership tiers) scores lower. The same as `score` when the
    # customer typed marks or nothing could be restored. Used to decide whether an answer is
    # confident, not to rank (tried for ranking in an earlier session: not adopted).
    score_as_restored: float

    def to_json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "section": self.section,
            "url": self.url,
            "text": self.text,
            "score": round(self.score, 4),
        }


def _terms(text: str) -> list[str]:
    """Content words plus every adjacent pair ("ha_noi", "hoan_tien") of the folded text."""
    text = hours_as_terms(amounts_as_terms(fold(evening_as_a_word(text))))
    return [t for t in tokens(text) if t not in STOPWORDS] + bigrams(text)


# "tối" (evening) folds to "toi", the pronoun "tôi", a stopword: "tối có giao hàng ko" found
# nothing of the evening delivery slot, and the retry passage came first on "tối đa". Written
# with its marks it is a word of its own; "tối đa" and "tối thiểu" (at most, at least) are one
# word each. Typed without marks, "toi" stays the pronoun.
_EVENING = re.compile(r"\btối(?:\s+(đa|thiểu))?\b", re.IGNORECASE)


def evening_as_a_word(text: str) -> str:
    """`text` with "tối" (evening) as "buoitoi" and "tối đa / tối thiểu" as one word each."""
    return _EVENING.sub(lambda m: f"tối{m[1]}" if m[1] else "buoitoi", text)


# Sums of money as customers type them ("500k", "1tr5", "1,5 triệu", "300 nghìn", "2 củ") and
# as help centers print them ("500.000đ", "20.000.000 đồng") become one term, the amount in
# dong ("500000d"): "mua trên 500k thì sao" never met "đơn từ 500.000đ" (the folded words
# were "500k" against "500" and "000d").
_THOUSANDS = r"\d{1,3}(?:[.,]\d{3})+"
_AMOUNT = re.compile(
    rf"\b(?:(?P<grouped>{_THOUSANDS})\s*(?:d|dong|vnd)?"
    r"|(?P<number>\d+(?:[.,]\d{1,2})?)\s*(?P<unit>k|nghin|ngan|tr|trieu|cu|d|dong|vnd)"
    r"(?P<tail>\d)?)\b"
)
_PER_UNIT = {"k": 1_000, "nghin": 1_000, "ngan": 1_000, "tr": 1_000_000, "trieu": 1_000_000,
             "cu": 1_000_000, "d": 1, "dong": 1, "vnd": 1}


def _amount_term(match: re.Match[str]) -> str:
    if match["grouped"]:
        return f"{int(re.sub(r'[.,]', '', match['grouped']))}d"
    per_unit = _PER_UNIT[match["unit"]]
    number = float(match["number"].replace(",", "."))
    if match["tail"]:  # "1tr5" is 1.5 million, "2k5" 2,500
        if per_unit == 1:
            return match[0]
        number += int(match["tail"]) / 10
    return f"{round(number * per_unit)}d"


def amounts_as_terms(folded: str) -> str:
    """`folded` with each sum of money written as one term, its value in dong ("500000d")."""
    return _AMOUNT.sub(_amount_term, folded)


# Hours as customers type them ("24h", "4 tiếng", "8h30", "16h") and as help centers print
# them ("24 giờ", "8:30", "16:00") read alike: "N gio", then the minutes unless they are 00
# ("tổng đài làm việc đến 21h không" got the complaint deadlines, on "giờ làm việc", before
# the hotline's "8:00 đến 21:00").
_CLOCK = re.compile(r"\b(\d{1,2})(?::|h)(\d{2})\b")
_HOURS = re.compile(r"\b(\d{1,3})\s*(?:h|tieng)\b")


def hours_as_terms(folded: str) -> str:
    """`folded` with hours and clock times written "N gio" ("24h", "4 tieng" -> "24 gio")."""
    folded = _CLOCK.sub(
        lambda m: f"{m[1]} gio" if m[2] == "00" else f"{m[1]} gio {m[2]}", folded
    )
    return _HOURS.sub(r"\1 gio", folded)


_RAW_WORD = re.compile(r"\w+")
_FOLDED_WORD = re.compile(r"[a-z0-9]+")


# Customer words for what help centers name otherwise, added to the lexical query: "em muốn
# trả lại cái nồi chiên" is a return, which articles call "đổi trả" or "trả hàng", never
# "trả lại" (the search put the article on changing a phone number first). Not "trả lại
# tiền": a refund. "bao lâu thì nhận được hàng", "ship mất mấy ngày" ask for delivery times,
# which articles call "thời gian giao hàng" (the search put late deliveries first, on "nhận
# được hàng"); "bao giờ / khi nào" are left out: "when does my order come" is tracking.
# The shop's "cửa hàng" are its showrooms ("Shop có cửa hàng ở Hà Nội không" got delivery
# time slots); a rival's "cửa hàng thực tế" (price matching) is not. Signing up is
# "đăng ký thành viên" to customers, "đăng ký tài khoản" to help centers (it got the tiers).
# Paying the courier is "trả tiền khi nhận hàng", which help centers call COD ("tra tien khi
# nhan hang dc k" got refunds for COD orders). The dense side reads the message as typed.
# "đăng nhập hoài không được" is a locked account or a forgotten password ("không" and
# "đăng nhập" matched "Mua hàng không cần đăng nhập", guest checkout). Buying "cho công ty"
# (not its invoice, which is the VAT article's) and buying many "có giảm giá không" are the
# business-customer article's ("mua 20 cái laptop cho cty thì có giảm giá ko" got why a
# voucher does not apply).
_NOT = r"(?:khong|ko|k|hong|chua)"
_CANNOT_LOG_IN = (
    rf"\b{_NOT} (?:dang nhap|login)(?: vao)? (?:\w+ )?(?:duoc|dc)\b"
    rf"|\b(?:dang nhap|login)(?: \w+){{0,2}} {_NOT} (?:duoc|dc)\b"
    rf"|\b{_NOT} vao (?:(?:duoc|dc) (?:tai khoan|tk)|(?:tai khoan|tk) (?:duoc|dc))\b"
)
_FOR_A_COMPANY = (
    r"^(?!.*\b(?:hoa don|hd|vat|xuat)\b)"
    r"(?=.*\b(?:mua|dat|bao gia)\b)"
    r".*\b(?:cho|cua|ben) (?:cong ty|cty|doanh nghiep|van phong|co quan)\b"
)
_BUYING_MANY = r"\b(?:mua|dat|lay) (?:\d{2,}|nhieu|so luong|si)\b.*\b(?:giam|chiet khau|bot)\b"
# Sold cheaper elsewhere, or "bù chênh lệch": the price-match promise ("bên ngoài giảm giá 2
# triệu, có được bù không" got the rules for combining vouchers).
_ELSEWHERE = r"(?:noi khac|cho khac|ben ngoai|shop khac|cua hang khac|web khac|san khac|ben kia)"
_CHEAPER = r"(?:re hon|giam gia|giam|ha gia|ban re)"
_CHEAPER_ELSEWHERE = (
    rf"\b{_ELSEWHERE}\b.*\b{_CHEAPER}\b|\b{_CHEAPER}\b.*\b{_ELSEWHERE}\b"
    r"|\b(?:bu|hoan|tra) (?:lai )?(?:tien )?chenh(?: lech)?\b"
)
_DURATION = r"(?:bao lau|may ngay|bao nhieu ngay)"
# "có mất phí không", "tính phí": whether something costs money
_COSTS = r"(?:mat phi|co phi|thu phi|phu phi|tinh phi|mat them phi|ton phi)"
_DELIVERY = r"(?:nhan (?:duoc )?hang|ship|giao(?: hang)?)"
_RETURNS = "tra hang doi tra"
_HELP_CENTER_WORDS = (
    # The South's "máy lạnh" is the help center's "điều hòa" ("máy lạnh có lắp tận nhà hông"
    # got home warranty visits; "điều hòa có lắp tận nhà không" got installation)
    (re.compile(r"\bmay lanh\b"), "dieu hoa"),
    # "... thấy ồn quá muốn trả": "muốn trả" with nothing after it is a return too, not
    # "muốn trả góp / trả tiền mặt / trả lời"
    (re.compile(r"\b(?:tra lai|hoan tra)\b(?! tien)"
                r"|\bmuon tra\b(?! (?:tien|gop|gom|loi|phi|bang|qua|truoc|sau|the|ck))"),
     _RETURNS),
    (
        re.compile(rf"\b{_DURATION}\b.*\b{_DELIVERY}\b|\b{_DELIVERY}\b.*\b{_DURATION}\b"),
        "thoi gian giao hang du kien theo khu vuc",
    ),
    (re.compile(r"\bcua hang\b(?! thuc te)"), "showroom"),
    (re.compile(r"\b(?:dang ky|tao|mo) thanh vien\b"), "dang ky tai khoan"),
    (re.compile(r"\btra tien (?:khi|luc) nhan\b"), "cod"),
    (re.compile(_CANNOT_LOG_IN), "tai khoan bi khoa dang nhap"),
    (re.compile(_FOR_A_COMPANY), "doanh nghiep"),
    (re.compile(_BUYING_MANY), "chiet khau so luong"),
    (re.compile(_CHEAPER_ELSEWHERE), "hoan tien chenh lech"),
    # "chuyển khoản nhầm nội dung", "giao nhầm màu": help centers write "sai"
    (re.compile(r"\bnham\b(?! lan)"), "sai"),
    # "mình chuyển thiếu 20 nghìn", "ck lố": a transfer of the wrong amount (not "dư": folded,
    # it is also "đủ", paid in full)
    (re.compile(r"\b(?:chuyen|ck)(?: khoan)? (?:thieu|thua|lo)\b"),
     "chuyen khoan sai so tien"),
    # "bảo hành mấy tháng", "bh mấy năm": how long the warranty lasts, which help centers call
    # "thời hạn"; "thời gian bảo hành" is also how long a repair takes ("7-15 ngày"), which
    # got this answer
    (re.compile(r"\b(?:bao hanh|bh)\b.*\b(?:may|bao nhieu) (?:thang|nam)\b"
                r"|\b(?:may|bao nhieu) (?:thang|nam)\b.*\b(?:bao hanh|bh)\b"),
     "thoi han bao hanh"),
    # "iphone bảo hành bao lâu", "laptop bh bao lâu vậy", "bảo hành điện thoại bao lâu": how
    # long the warranty lasts too (it got how long a repair takes, or the e-warranty); not
    # "gửi bảo hành bao lâu thì xong", "sửa mất bao lâu", "bảo hành tận nhà bao lâu thì tới"
    (re.compile(r"^(?!.*\b(?:sua|gui|xu ly|xong|mat|lay|nhan lai|tra lai|cho|doi|toi|den"
                r"|tan nha)\b)"
                r".*\b(?:bao hanh|bh)(?: duoc| trong)?(?: \w+){0,3} bao lau\b"),
     "thoi han bao hanh theo nhom san pham"),
    # "giao hàng có được xem hàng không", "có được đồng kiểm không": checking the parcel
    # before paying (it got failed deliveries); not browsing products in a showroom
    (re.compile(r"\bdong kiem\b"
                r"|\b(?:xem|coi|kiem) hang\b.*\b(?:nhan|tra tien|thanh toan)\b"
                r"|\b(?:giao|nhan|ship|shipper|cod)\b.*\b(?:duoc|dc|cho) (?:xem|coi|kiem tra|check)"
                r"(?: hang)?\b"
                r"|\b(?:xem|coi|kiem tra)(?: hang)? truoc\b.*\b(?:tra tien|thanh toan)\b"),
     "kiem tra hang truoc khi thanh toan"),
    # "gửi bảo hành bao lâu thì xong", "sửa xong bao lâu lấy": how long a repair takes, the
    # warranty's processing time (they got posting a product in, or paid repairs); not a
    # delivery ("sửa địa chỉ giao mất bao lâu")
    (re.compile(r"^(?!.*\b(?:giao|ship|don|dia chi|hoan tien)\b)"
                r"(?=.*\b(?:sua|bao hanh|bh)\b)"
                r".*\b(?:sua|gui|xu ly)(?: \w+){0,3} (?:bao lau|may ngay|bao nhieu ngay)\b"
                r"|\b(?:sua|bao hanh|bh) xong (?:bao lau|may ngay|khi nao|bao gio)\b"),
     "thoi gian xu ly bao hanh 7 15 ngay lam viec"),
    # "gia hạn bảo hành", "mua thêm bảo hành": the extended warranty, which help centers call
    # "bảo hành mở rộng" (it got paid repairs after the warranty)
    (re.compile(r"\b(?:gia han|keo dai|mua them|them|noi dai|cong them)(?: thoi gian)?"
                r" (?:bao hanh|bh)\b"),
     "goi bao hanh mo rong"),
    # "bảo hành có cần hóa đơn không", "mất phiếu bảo hành thì sao": the warranty is
    # electronic and needs no papers (it got sending a product to a showroom for repair)
    (re.compile(r"\b(?:bao hanh|bh)\b.*\b(?:can|phai|mang|giu|mat|lam mat|khong co|ko co|quen)"
                r"(?: theo| lai)? (?:hoa don|phieu|giay to|so bao hanh|the bao hanh)\b"
                r"|\b(?:mat|lam mat|khong co|ko co|quen|can|phai)(?: \w+)?"
                r" (?:hoa don|phieu|giay to)\b.*\b(?:bao hanh|bh)\b"),
     "bao hanh dien tu khong can giu phieu bao hanh giay hay hoa don"),
    # "hóa đơn đỏ" is what customers call the VAT invoice
    (re.compile(r"\bhoa don do\b"), "hoa don vat"),
    # "mua đt mà bị lỗi màn hình sau 3 ngày", "mới nhận hôm qua đã hỏng", "dt mua tuần
    # trước giờ sạc không vô" (it got Flash Sale's time slots, on "giờ"): a defect soon
    # after buying is a return for a maker's fault (the search put warranty exclusions first,
    # the return section was not in the first four); not a payment or app error
    (re.compile(
        r"^(?!.*\b(?:thanh toan|dang nhap|app|ung dung|web|website|otp|ma giam|voucher"
        r"|chuyen khoan)\b)"
        r"(?=.*\b(?:loi|hu|hong|khong (?:len|chay|hoat dong|sac|lanh|mat)|chay nuoc|ro nuoc"
        r"|keu to|bi keu|chet nguon|sap nguon|mat nguon"
        r"|sac khong (?:vo|vao|duoc|len)|(?:mo|bat)(?: may)? khong (?:len|duoc))\b)"
        r".*\b(?:(?:moi|vua) (?:mua|nhan|dung)|(?:sau|duoc|moi|co) (?:\d+|vai|mot|hai|ba)"
        r" (?:ngay|hom|tuan)|(?:mua|nhan)(?: \w+){0,5} (?:hom qua|hom kia|tuan truoc))\b"),
     "doi tra do loi nha san xuat"),
    # "ship hỏa tốc": the 2-hour and same-day delivery
    (re.compile(r"\b(?:hoa toc|giao gap|ship gap|giao sieu toc)\b"), "giao 2h giao trong ngay"),
    # "đơn hàng giao thiếu phụ kiện", "giao lộn màu": the returns section on wrong or
    # missing items (it got checking a parcel before paying, on "phụ kiện")
    (re.compile(r"\bgiao (?:thieu|sai|nham|lon|khong du)\b"), "hang giao sai thieu"),
    # English mixed in: "mình muốn return cái headphone" got paying by VNPay
    (re.compile(r"\b(?:return|exchange)\b"), _RETURNS),
    (re.compile(r"\bwarranty\b"), "bao hanh"),
    (re.compile(r"\bheadphones?\b"), "tai nghe"),
    (re.compile(r"\binstall?ment\b"), "tra gop"),
    # "hotline bao nhiêu vậy" (it got the data-protection e-mail): help centers say "tổng đài"
    (re.compile(r"\bhotline\b|\b(?:sdt|so dien thoai|so dt|so) (?:cua )?(?:shop|cskh|ben minh)\b"
                r"|\bso (?:cskh|tong dai)\b"), "tong dai"),
    # "shop có giao tới Cà Mau hông dzậy", "có ship về Hà Giang không": whether the shop
    # delivers there at all (it got the steps of a business quote); not how long or how much
    # (their own rules), nor a home, an office, an island or abroad (their own sections), nor
    # what can be done when it comes ("tủ lạnh giao tới hủy được không")
    (re.compile(r"^(?!.*\b(?:bao lau|may ngay|bao nhieu|phi|tien|gio|nha|tan noi|tan nha"
                r"|chung cu|van phong|cong ty|khu cong nghiep|dao|nuoc ngoai|quoc te|huy|doi"
                r"|tra|kiem tra|xem|khieng|lap)\b)"
                r".*\b(?:giao|ship|gui|chuyen)(?: hang)? (?:toi|den|ve|ra|vao|di)\b"
                r".*\b(?:khong|ko|k|hong|hok|khum)(?: (?:vay|dzay|day|a|shop|nhi|nhe|nhen|ta))*$"),
     "giao hang den moi tinh thanh pho pham vi giao hang toan quoc"),
    # "bên mình có làm việc chủ nhật không": the hours, which articles give with the days;
    # "giờ làm việc của cskh" too (it got disputing a complaint's outcome), but a showroom's
    # hours are its own
    (re.compile(r"\blam viec\b.*\b(?:chu nhat|cn|thu 7|thu bay|cuoi tuan|ngay le|le tet|tet)\b"
                r"|\b(?:may gio|gio nao|luc nao) (?:lam viec|mo cua|dong cua)\b"
                r"|\b(?:lam viec|mo cua|dong cua|truc) (?:tu |den |toi )?(?:may gio|gio nao)\b"
                r"|^(?!.*\b(?:showroom|cua hang|chi nhanh|quay)\b).*\bgio (?:lam viec|truc)\b"),
     "hoat dong tat ca cac ngay chu nhat ngay le"),
    # "đặt rồi có sửa số lượng được không": changing an order (it got the business
    # customers' volume discounts, on "số lượng")
    (re.compile(r"\b(?:sua|doi|thay doi|them|bot|giam|tang|chinh)(?: lai)? so luong\b"),
     "them bot san pham thay doi don hang"),
    # "đặt hàng xong muốn đổi sang giao chỗ làm", "đơn đặt rồi đổi địa chỉ được ko": changing
    # an order placed (it got the account's address book)
    (re.compile(r"^(?=.*\b(?:(?:dat|mua)(?: hang| don)? (?:roi|xong)|da dat|don)\b)"
                r"(?=.*\b(?:doi|sua|thay doi|chuyen)\b)"
                r".*\b(?:dia chi|nguoi nhan|giao (?:sang|qua|ve|toi|den)|(?:sang|qua) giao)\b"),
     "thay doi dia chi nguoi nhan don hang"),
    # "muốn đặt hàng nhưng không có tài khoản thì sao": buying as a guest, which help centers
    # call buying without logging in (it got deleting an account); not how to register
    (re.compile(r"^(?=.*\b(?:mua|dat)\b)(?!.*\bdang ky\b)"
                r".*\b(?:khong|chua|ko|k) (?:co|lap|tao|can)(?: \w+)? (?:tai khoan|tk|acc)\b"),
     "mua hang khong can dang nhap"),
    # "có giao hàng buổi tối không", "đi làm cả ngày, hẹn giao buổi tối", "có được chọn giờ
    # giao không": the delivery time slots (they got Giao 2h's orders placed after hours)
    (re.compile(r"^(?=.*\b(?:giao|nhan hang|ship)\b)"
                r".*\b(?:buoi (?:toi|sang|trua|chieu)|toi nay|sau gio lam|ngoai gio hanh chinh"
                r"|hen (?:ngay |gio )?giao|chon (?:ngay|gio|khung gio))\b"),
     "chon ngay va khung gio nhan hang"),
    # "hoàn tiền về thẻ tín dụng mất bao lâu": refund times by payment method (it got
    # cancelling an instalment order)
    # "bao lâu thì nhận được tiền hoàn" too (it got refunds overdue, on "nhận được tiền hoàn")
    (re.compile(r"\b(?:hoan (?:tien|lai tien)|tien hoan)\b"
                r".*\b(?:bao lau|may ngay|khi nao|bao gio|mat bao)\b"
                r"|\b(?:bao lau|may ngay|khi nao|bao gio)\b"
                r".*\b(?:hoan (?:tien|lai tien)|tien hoan)\b"),
     "thoi gian hoan tien theo phuong thuc thanh toan"),
    # "bao giờ hoàn lại", "khi nào được hoàn": with nothing named, what comes back is the
    # order's money (it got vouchers returned after a cancellation); not a voucher, points or
    # "tiền cọc", a deposit, which other help centers refund on their own terms
    (re.compile(r"^(?!.*\b(?:voucher|ma|diem|xu|coupon|freeship|qua|hang|tien)\b)"
                r"(?=.*\b(?:bao gio|khi nao|bao lau|may ngay)\b).*\bhoan(?: lai)?\b"),
     "thoi gian hoan tien"),
    # "mua online rồi ra showroom lấy được không": collecting an online order at a showroom
    # (it got earning points for showroom purchases)
    (re.compile(r"^(?=.*\b(?:showroom|cua hang|chi nhanh)\b)"
                r"(?=.*\b(?:online|tren (?:web|website|app|mang)|qua (?:web|app|mang))\b)"
                r".*\b(?:lay|nhan|toi lay|den lay|ra lay)\b"),
     "nhan hang dat online tai showroom"),
    # "đã gửi trả hàng rồi bao giờ nhận được tiền": when the refund comes (it got the return
    # guide)
    (re.compile(r"\b(?:bao gio|khi nao|bao lau|may ngay)\b.*\b(?:nhan (?:duoc |lai )?tien"
                r"|co tien|duoc tra (?:lai )?tien|tien (?:ve|hoan))\b"),
     "thoi gian hoan tien"),
    # "chuyển khoản rồi mà đơn chưa cập nhật": a transfer not yet matched to the order (it got
    # updating the account's e-mail)
    (re.compile(r"\b(?:chuyen khoan|ck)\b.*\b(?:chua|khong|ko) (?:cap nhat|xac nhan|nhan|thay)\b"),
     "xac nhan thanh toan chuyen khoan"),
    # "quét mã QR chuyển khoản xong mà đơn vẫn báo chưa thanh toán": paid, but the order does
    # not show it, as help centers word it (it got how to pay by VietQR)
    (re.compile(r"\b(?:bao|hien|van|la|ghi) chua (?:duoc )?thanh toan\b"),
     "tien da bi tru nhung don hang bao chua thanh toan"),
    # "làm thế nào để lên hạng bạc", "hạng vàng cần chi tiêu bao nhiêu": what a tier takes
    # (they got the tier's benefits and how tiers are reviewed)
    (re.compile(r"\b(?:len|nang) hang\b"
                r"|\bhang (?:bac|vang|kim cuong)\b.*\b(?:chi tieu|mua bao nhieu|tieu bao nhieu)\b"
                r"|\b(?:chi tieu|mua) bao nhieu\b.*\bhang (?:bac|vang|kim cuong)\b"),
     "dieu kien len hang tong chi tieu"),
    # "mới mua cái nồi cơm hôm qua, giờ muốn đổi sang màu khác": an exchange once received,
    # the returns policy's "không còn nhu cầu" (it got changing the account's phone number)
    (re.compile(r"^(?=.*\b(?:(?:moi|vua|da) (?:mua|nhan)"
                r"|mua(?: \w+){0,5} (?:ve|hom qua|hom kia|tuan truoc)"
                r"|nhan (?:hang |duoc )?(?:roi|hom qua))\b)"
                r".*\bdoi (?:sang |qua |lay )?(?:mau|loai|size|phien ban|dung luong|cai khac)\b"),
     "doi tra khi khong con nhu cau khong ung y"),
    # "tủ lạnh giao tới có người khiêng lên lầu 5 không": carrying bulky goods upstairs, which
    # the delivery articles write "mang lên lầu", "tận căn hộ" (it got cancelling a bulky order)
    (re.compile(r"\b(?:khieng|mang|dem|cho|van chuyen|be|dua)(?: \w+)?"
                r" len (?:lau|tang|can ho|nha)\b|\blen (?:lau|tang) \d+\b"),
     "mang len lau tan can ho thang may hang cong kenh"),
    # "tra gop dc ko", "shop có cho trả góp không": whether instalments are offered at all,
    # which the article's opening says (it got cancelling an instalment order, whose passage
    # holds "được" and "không"); not a question about their terms, cards or cancelling
    (re.compile(r"^(?!.*\b(?:huy|tra hang|tra lai|the|dieu kien|ky han|thang|lai suat|phi"
                r"|cccd|can|buoc|flash sale|hoan)\b)"
                r".*\btra gop\b(?: 0)?(?: (?:duoc|dc))? (?:khong|ko|k|hong|hok|kg)\b"),
     "ho tro mua tra gop dieu kien"),
    # "tra gop duoc may thang": how many months an instalment plan runs, its "kỳ hạn" (it
    # got the steps to apply online)
    (re.compile(r"\btra gop\b.*\b(?:may|bao nhieu|bao lau|toi da) (?:thang|ky)\b"
                r"|\b(?:may|bao nhieu) (?:thang|ky)\b.*\btra gop\b"),
     "ky han tra gop"),
    # "thanh toán bằng momo bị lỗi", "ko thanh toán được": why a payment fails (it got how to
    # pay with MoMo)
    (re.compile(r"\b(?:thanh toan|momo|zalopay|vnpay)(?: \w+){0,3} (?:bi loi|bao loi|that bai"
                r"|khong thanh cong|(?:khong|ko|k) duoc)\b|\b(?:khong|ko|k) thanh toan duoc\b"),
     "thanh toan khong thanh cong nguyen nhan"),
    # "sp bị trầy xước khi nhận thì sao", "mở hộp ra thấy móp": damaged on arrival, the
    # returns section on wrong, short or dented deliveries (it got what a returned item must
    # be like); not a scratch the warranty would not cover
    (re.compile(r"^(?=.*\b(?:nhan|giao|ship|shipper|mo hop|khui|mo ra)\b)"
                r".*\b(?:tray|xuoc|mop|meo|(?:bi|da) (?:be|vo|nut|bep|rach))\b"),
     "hang giao bi mop meo"),
    # "đổi trả có mất phí không": what a return costs, which the policy says per reason (it got
    # the instalment conversion fee, on "chuyển đổi")
    # "trả hàng thì ai trả phí ship" too (it got redelivery fees)
    (re.compile(r"^(?=.*\b(?:doi tra|tra hang|doi hang|tra lai hang|gui tra)\b)"
                r".*\b(?:mat phi|ton phi|thu phi|tinh phi|co phi|mien phi|free|mat tien"
                r"|tra phi|chiu phi|phi ship|tien ship|phi van chuyen|phi gui)\b"),
     "thu phi doi tra khong con nhu cau chi phi van chuyen hai chieu"),
    # "có giao hàng thứ 7 cn không": deliveries on Sundays and holidays, which the delivery
    # times give (it got the steps of a business quote)
    (re.compile(r"^(?!.*\blam viec\b)(?=.*\b(?:giao|ship|nhan hang)\b)"
                r".*\b(?:chu nhat|cn|thu 7|thu bay|t7|cuoi tuan|ngay le)\b"),
     "giao hang ca chu nhat khong tinh chu nhat va ngay nghi le"),
    # "ship cod dc ko": paying the courier (it got refusing a parcel, whose text says "COD")
    (re.compile(r"\b(?:ship|giao|nhan) cod\b|\bcod (?:duoc|dc|khong|ko|k)\b"),
     "thanh toan khi nhan hang cod tien mat"),
    # "nhân viên giao hàng có lắp luôn không": installation with the delivery (it got the
    # warning about fake couriers)
    (re.compile(r"^(?=.*\b(?:giao|ship|shipper|nhan hang)\b)"
                r".*\blap(?: dat)? (?:luon|giup|cho|dum|ho|khong|ko|k|tai nha)\b"),
     "lap dat mien phi"),
    # "mình muốn đổi size", "đổi màu khác được không": an exchange, the returns policy's "không
    # còn nhu cầu" (it got rescheduling an installation, on "đổi lịch")
    (re.compile(r"\bdoi (?:sang |qua |lay )?(?:size|sai|kich co|kich thuoc|mau khac)\b"),
     "doi tra khi khong con nhu cau"),
    # "đặt 2 món mà chỉ nhận được 1 kiện": an order sent in several parcels (it got Giao 2h's
    # conditions)
    (re.compile(r"\b(?:nhan (?:duoc |dc )?(?:co )?(?:1|mot) (?:kien|thung|goi|mon)"
                r"|(?:tach|chia) (?:thanh )?(?:nhieu |2 |hai )?(?:kien|goi)"
                r"|(?:nhieu|2|hai|may) kien)\b"),
     "don hang duoc tach thanh nhieu kien"),
    # "sao tài khoản em không dùng được điểm": what using points takes (it got buying without
    # an account, which earns none)
    (re.compile(r"\b(?:khong|ko|k|chua) (?:dung|su dung|xai|tru|ap dung) (?:duoc )?diem\b"
                r"|\bdiem\b.*\b(?:khong|ko|k) (?:dung|xai|tru|ap dung) duoc\b"),
     "dung diem thuong de thanh toan toi thieu toi da"),
    # "sđt mình đổi rồi, đăng nhập không được vì OTP gửi về số cũ": the account's number is
    # one the customer no longer has (it got the account locked after wrong passwords)
    (re.compile(r"^(?=.*\b(?:otp|ma xac nhan|dang nhap)\b)"
                r".*\b(?:so cu|sim cu|sdt cu|mat (?:so|sim|sdt)|(?:khong|ko) con (?:dung )?"
                r"(?:so|sim|sdt)|(?:sdt|so dien thoai|so)(?: cua (?:minh|em|toi))? doi roi)\b"),
     "doi so dien thoai khi da mat so cu"),
    # "ko có ai ở nhà thì sao", "mình đi vắng": a delivery nobody takes, which help centers
    # call unsuccessful (it got refusing a parcel at the door)
    (re.compile(r"\b(?:(?:khong|ko|k) (?:co )?(?:ai|nguoi) (?:o nha|nhan(?: hang)?|nghe may)"
                r"|vang nha|(?:khong|ko|k) (?:co )?o nha|di vang)\b"),
     "giao hang khong thanh cong khong lien lac duoc giao lai"),
    # "giao hàng có gọi trước không": the courier calls before coming, which help centers say
    # with failed deliveries (it got choosing a time slot)
    (re.compile(r"^(?=.*\b(?:giao|ship|shipper)\b)"
                r".*\bgoi(?: dien)?(?: cho (?:minh|em|toi|khach))? truoc\b"),
     "shipper goi cho ban truoc khi giao"),
    # "ở quảng ninh có lắp không": where installation is offered (alone it got cookies and
    # "quảng cáo", on the place's first word)
    # "có lắp điều hòa ở ngoại thành không" too (it got the air conditioners' material costs);
    # not "lắp ở nhà có mất phí không", "lắp tivi ở chung cư được không"
    (re.compile(r"\b(?:o|tai|ve|khu vuc|tinh|huyen|xa)\b(?: \w+){1,4} (?:co )?(?:ho tro )?lap"
                r"(?: dat)?(?: duoc)? (?:khong|ko|k|hong|hok)\b"
                r"|^(?!.*\b(?:phi|tien|gia|bao nhieu)\b).*\blap(?: dat)?\b(?: \w+){0,3}"
                r" (?:o|tai) (?:(?!duoc |dc )\w+ ){1,3}(?:khong|ko|k|hong|hok)\b"),
     "khu vuc va thoi gian lap dat"),
    # "có cần giữ hộp không", "vứt vỏ hộp rồi còn đổi được không": what a returned item must
    # come with (it got the electronic warranty, which needs no papers); not a torn warranty
    # seal, which the warranty's exclusions answer
    (re.compile(r"^(?!.*\b(?:bao hanh|bh)\b).*\b(?:giu|con|vut|bo|mat|lam mat|khong con|ko con)"
                r"(?: lai)?(?: vo| cai)? (?:hop|thung|vo hop|phu kien)\b"),
     "dieu kien san pham khi gui doi tra con day du hop phu kien"),
    # "sp này có bh ko": "bh" is also "bao giờ" (when); after "có" / "được" it is the warranty
    # (it got the products that cannot be returned)
    (re.compile(r"\b(?:co|duoc|dc|con) bh\b"), "chinh sach bao hanh thoi han bao hanh"),
    # "mk mua dt cũ dc ko": second-hand goods, which the shop does not sell (it got changing
    # the account's phone number, on "số cũ")
    (re.compile(r"\b(?:mua|ban|co ban|co)(?: (?!(?:so|sim|sdt|tai khoan|tk)\b)\w+)?"
                r" (?:cu|da qua su dung|second hand|2nd|like new|tan trang|refurbished)\b"),
     "khong kinh doanh hang xach tay khong ban hang tan trang hang da qua sua chua"),
    # "trả tiền mặt được ko": paying cash, on delivery or in a showroom (it got refunds of
    # cash-on-delivery orders); not a refund in cash
    (re.compile(r"^(?!.*\bhoan\b).*\b(?:tra|thanh toan|dua|gui)(?: bang)? tien mat\b"),
     "thanh toan khi nhan hang cod tien mat"),
    # "chuyển khoản xong gửi bill ở đâu": the transfer receipt, "biên lai" in help centers
    (re.compile(r"\b(?:bill|uy nhiem chi|unc)\b"), "bien lai"),
    # "mới nhận hôm qua, mở ra thấy thiếu cái remote": something missing from a parcel, the
    # returns section on wrong or short deliveries (it got earning points later, on "bổ
    # sung"); not a transfer short of money
    (re.compile(r"^(?!.*\b(?:tien|chuyen|ck|thanh toan|diem)\b)"
                r"(?=.*\b(?:nhan|giao|mo hop|mo ra|khui|ship)\b).*\bthieu\b"),
     "hang giao sai thieu"),
    # "đơn hàng của mình bị hủy mà không biết lý do": an order the shop cancelled, which help
    # centers call cancelled automatically (it got how to cancel an order oneself); not a
    # refund after a cancellation
    (re.compile(r"^(?!.*\b(?:tien|hoan|voucher|diem)\b)"
                r".*\bdon(?: hang)?(?: \w+){0,3} (?:bi|da bi|tu) huy\b"),
     "don hang bi huy tu dong"),
    # "shop có cửa hàng ở Cần Thơ không", "có chi nhánh tại Hải Phòng ko": where the showrooms
    # are (it got sending a product to a showroom for warranty); not its hours or a warranty
    (re.compile(r"^(?!.*\b(?:bao hanh|bh|sua|gio|mo cua|dong cua|lam viec|doi tra|tra hang)\b)"
                r".*\bco (?:cua hang|showroom|chi nhanh|co so)(?: nao)? (?:o|tai|gan|khu vuc)\b"),
     "he thong showroom dia chi showroom tai"),
    # "giờ làm việc của showroom": its opening hours (it got the warranty desk's hours)
    (re.compile(r"^(?!.*\b(?:bao hanh|bh|sua)\b)(?=.*\b(?:showroom|cua hang|chi nhanh)\b)"
                r".*\b(?:gio (?:lam viec|mo cua|dong cua)|(?:mo|dong) cua|lam viec)\b"),
     "gio mo cua showroom"),
    # "mang ra hãng bảo hành được không": the maker's own service centre ("hãng" folds to
    # "hang", goods; it got what the warranty excludes)
    (re.compile(r"\b(?:ra|den|toi|o|tai|cua) hang(?: de| ma)? (?:bao hanh|bh|sua)\b"
                r"|\b(?:trung tam|tt) (?:bao hanh |bh )?(?:cua )?hang\b"),
     "bao hanh truc tiep tai trung tam cua hang"),
    # "đơn dưới 500k phí ship bao nhiêu": an order below the free-delivery amount pays the
    # standard fee (the amount alone found the free-delivery conditions, which do not say it)
    (re.compile(r"\b(?:duoi|chua du|chua toi|chua den|khong du|ko du)(?: \w+){0,2} \d[\d.,]*"
                r"\s*(?:k|nghin|ngan|tr|trieu|d|dong)?\b.*\b(?:phi|ship|van chuyen)\b"),
     "bieu phi giao hang tieu chuan"),
    # "ad ơi cho e hỏi ship bn tiền", "ship đi Hải Phòng bao nhiêu tiền": the standard fee (a
    # greeting before it put the delivery area first); not how long, nor a bulky item, an
    # express delivery, an island or abroad, which have fees of their own
    (re.compile(r"^(?!.*\b(?:bao lau|may ngay|cong kenh|tu lanh|tu dong|may giat|may say"
                r"|dieu hoa|may lanh|tivi|ti vi|2h|2 gio|hoa toc|trong ngay|nhanh|dao"
                r"|nuoc ngoai|quoc te|lap|doi tra|tra hang)\b)"
                r"(?=.*\b(?:ship|van chuyen|giao hang|gui hang)\b)"
                r".*\b(?:bao nhieu|bn|bnhieu|bnh|nhieu tien|het nhieu)\b"),
     "bieu phi giao hang tieu chuan"),
    # "mua trên 500k có freeship không": free delivery by order value (it got the kinds of
    # discount codes); not a free-shipping code or a tier's monthly ones
    (re.compile(r"^(?!.*\b(?:ma|voucher|code|coupon|hang|thanh vien)\b)"
                r".*\b(?:free ?ship|mien ship)\b"),
     "dieu kien mien phi van chuyen"),
    # "do you ship to Singapore?", "gửi hàng sang Mỹ được không": abroad, which help centers
    # call "quốc tế" / "nước ngoài" (it got a failed delivery, on "ship"); not Lào Cai, nor
    # "ngã tư" or the districts named Đức
    (re.compile(r"\b(?:ship|giao|gui|chuyen|send|deliver|delivery)\b.*\b(?:singapore|malaysia"
                r"|thai lan|thailand|campuchia|cambodia|lao(?! cai)|laos|trung quoc|china"
                r"|nhat ban|japan|han quoc|korea|dai loan|taiwan|hong kong|philippines"
                r"|indonesia|australia|canada|usa|america|phap|france|germany|abroad"
                r"|overseas|international)\b"
                r"|\b(?:sang|qua) (?:my|nhat|han quoc|uc|phap|singapore|campuchia|trung quoc"
                r"|dai loan)\b"),
     "giao hang quoc te nuoc ngoai"),
    # "hôm nay có khuyến mãi gì không", "dạo này có sale gì": which promotions there are,
    # which help centers answer with where codes and vouchers are given out (it got refunds of
    # discounted orders and the wallets' offers); not the wallets' own offers, nor the
    # kinds of codes
    (re.compile(r"^(?!.*\b(?:momo|zalopay|zalo pay|vnpay|vi dien tu|thanh toan|the tin dung"
                r"|loai|cach)\b)"
                r".*\bco(?: \w+){0,3} (?:khuyen mai|km|sale|uu dai|giam gia)(?: \w+){0,2}"
                r" (?:gi|nao)\b"),
     "ma giam gia voucher phat hanh flash sale"),
    # "thanh toán bằng thẻ visa có mất phí không", "chuyển khoản có mất phí không": paying
    # costs nothing, which help centers say once, in the payment methods' opening (it got how
    # card payments are processed, or a transfer of the wrong amount); not delivery,
    # instalments or cancelling, which have fees of their own
    (re.compile(r"^(?!.*\b(?:ship|giao|van chuyen|tra gop|huy|doi tra|tra hang|lap)\b)"
                r"(?=.*\b(?:thanh toan|tra tien|quet the|the|visa|mastercard|momo|zalopay"
                r"|vnpay|chuyen khoan|ck|vi)\b)"
                rf".*\b{_COSTS}\b"),
     "khong thu them phi khi ban thanh toan"),
    # "ship cod có mất phí không": help centers say COD is "miễn phí thu hộ" (it got the COD
    # limits)
    (re.compile(rf"\bcod\b.*\b{_COSTS}\b"
                r"|\b(?:mat phi|phi) (?:cod|thu ho)\b"),
     "mien phi thu ho"),
    # "làm sao để thành khách vip", "khách hàng thân thiết được gì": the membership tiers (it
    # got business customers and guest checkout)
    (re.compile(r"\b(?:vip|khach (?:hang )?than thiet|membership|member)\b"),
     "hang thanh vien dieu kien len hang quyen loi"),
    # "tặng quà có giấu giá được không": hiding the price on a gift, which help centers call
    # "ẩn giá" (the NLU had it out of scope)
    (re.compile(r"\b(?:giau|che|khong (?:hien|de|ghi)|ko (?:hien|de|ghi)) gia\b"),
     "an gia qua tang"),
    # "shop có bán thông tin của mình cho bên khác ko": personal data shared with others, the
    # privacy policy's "bên thứ ba" (it got changing an order's recipient details)
    (re.compile(r"\b(?:ban|chia se|tiet lo|lo|dua|cung cap) (?:thong tin|du lieu|sdt|so dien thoai)"
                r"\b.*\b(?:ben khac|nguoi khac|ben ngoai|cong ty khac|ben thu ba|doi tac)\b"
                r"|\b(?:ro ri|lam lo) (?:thong tin|du lieu)\b"
                r"|\b(?:thong tin|du lieu)\b.*\b(?:bi lo|lo ra|ro ri)\b"),
     "chia se du lieu voi ben thu ba bao mat"),
    # "mình muốn góp ý về dịch vụ": feedback goes where complaints go, the help centers' word
    # (it got gift wrapping, on "dịch vụ")
    (re.compile(r"\b(?:gop y|dong gop y kien|y kien dong gop|feedback)\b"),
     "kenh tiep nhan khieu nai gop y"),
    # "giao 2h có mất phí không": what the express services cost (it got orders placed after
    # their hours)
    (re.compile(r"\b(?:giao|ship) (?:2h|2 h|2 gio|trong ngay|hoa toc)\b"
                r".*\b(?:phi|mat phi|bao nhieu tien|tinh tien|gia)\b"),
     "phi giao 2h va giao trong ngay"),
    # "e mún đổi trả hàg thì lm ntn": how to make a return, the return guide's steps (it got
    # the products that cannot be returned); not "đổi trả thế nào", which asks the policy,
    # nor how the money comes back ("trả hàng thì hoàn tiền bằng cách nào")
    (re.compile(r"^(?!.*\b(?:hoan|tien)\b)"
                r".*\b(?:doi tra|tra hang|tra lai hang|doi hang)\b.*\b(?:lam sao|lam the nao"
                r"|lam nhu the nao|lm ntn|lam ntn|cach|thu tuc)\b"),
     "tao yeu cau doi tra truc tuyen"),
    # "đặt hàng rồi có sửa được không", "sửa lại đơn": changing an order, which help centers
    # call "thay đổi" ("sửa" alone is a repair; it got the steps of placing an order)
    (re.compile(r"\b(?:chinh )?sua(?: lai)? (?:don|dia chi|sdt|so dien thoai|ten nguoi nhan"
                r"|nguoi nhan|thong tin (?:don|nguoi nhan|giao hang))\b"
                r"|\b(?:dat|len|chot)(?: hang| don)? (?:roi|xong)\b.*\b(?:chinh )?sua\b"),
     "thay doi thong tin don hang"),
    # "có nhận đơn qua điện thoại không": ordering by phone or Zalo (it got confirmation
    # messages)
    (re.compile(r"\b(?:dat|nhan|len|chot|mua|order)(?: hang| don)? (?:qua|bang) (?:dien thoai|dt"
                r"|tong dai|hotline|zalo|goi dien)\b"),
     "dat hang qua tong dai 1900 6868 hoac zalo"),
    # "đơn bị hủy mà tiền chưa về": when the refund comes, not why orders are cancelled
    (re.compile(r"\b(?:huy|tra hang|tra lai)\b.*\btien\b.*\bchua (?:ve|nhan|thay|hoan)\b"
                r"|\b(?:huy|tra hang|tra lai)\b.*\bchua (?:duoc )?hoan (?:tien|lai)\b"),
     "thoi gian hoan tien"),
)


_BAO_H = re.compile(r"\bbao h\b")

# "shop có cho đổi hàng không", "doi hang duoc ko": help centers never write "đổi hàng" (it got
# the order confirmation call, on "đơn hàng", or changing an order's address, on "thay đổi").
# Unmarked, the same letters also wait ("đợi hàng lâu quá") or name a tier ("đổi hạng"): typed
# with marks only "đổi hàng" counts, typed without them not before the words of waiting or of
# a tier.
_EXCHANGE_MARKED = re.compile(r"(?<!\w)đổi hàng(?!\w)")
_EXCHANGE_FOLDED = re.compile(
    r"\bdoi hang\b(?! (?:thanh vien|vang|bac|kim cuong|lau|mai|hoai|may|bao|den|toi|qua|chua"
    r"|ca)\b)"
)


def _asks_to_exchange(written: str, folded: str) -> bool:
    if has_diacritics(written):
        return bool(_EXCHANGE_MARKED.search(normalize(written).lower()))
    return bool(_EXCHANGE_FOLDED.search(folded))


def with_help_center_words(
    query: str, context: str | None = None, reading: str | None = None
) -> str:
    """`query` followed by the help center's words for what it asks, if any. With `context`
    (the question `query` follows up) and no such words of its own, the words of what the two
    ask together and the question alone did not: "mất mấy ngày" after "phí ship ra Hà Nội bao
    nhiêu" asks how long delivery takes (the follow-up names no delivery, the question no
    duration). `reading`: the query with its marks put back, where a rule needs them."""
    # "bao h" is "bao giờ" typed short ("hủy đơn r bao h nhận lại tiền")
    folded = _BAO_H.sub("bao gio", fold(query))
    extra = [added for pattern, added in _HELP_CENTER_WORDS if pattern.search(folded)]
    if _asks_to_exchange(reading or query, folded) and _RETURNS not in extra:
        extra.append(_RETURNS)
    if context and context.strip() and not extra:
        # Only for a message that asks nothing the rules know on its own: "phí ship ra Hà Nội
        # bao nhiêu" after a question on returns is a new question, not the cost of a return.
        before = _BAO_H.sub("bao gio", fold(context))
        joined = f"{before} {folded}"
        extra = [
            added for pattern, added in _HELP_CENTER_WORDS
            if pattern.search(joined) and not pattern.search(before)
        ]
    return " ".join([query, *extra])


def written_forms(text: str) -> list[tuple[str, str]]:
    """(folded term, term as written) for each word and each adjacent pair of words.

    Folding merges words that Vietnamese keeps apart ("hàng" goods, "hạng" tier, "háng"): the
    written forms let the lexical score tell them apart again (see `LexicalIndex.scores`).
    """
    pairs = [
        (f, w) for w in _RAW_WORD.findall(normalize(text))
        if _FOLDED_WORD.fullmatch(f := fold(w))
    ]
    out = list(pairs)
    out += [(f"{fa}_{fb}", f"{wa}_{wb}") for (fa, wa), (fb, wb) in pairwise(pairs)]
    return out


class LexicalIndex:
    """IDF-weighted coverage of the query's folded terms by each passage, in [0, 1].

    Coverage rather than raw BM25 so that the value is comparable across queries and can be
    blended with cosine similarity and thresholded ("is this a confident answer?").

    A folded match of a word the customer typed with its marks counts `accent_mismatch` as
    much when the passage writes it differently: "đổi hàng" (exchange goods) against a
    passage about "đổi hạng" (membership tiers). Not zero: one wrong mark is a common typo.
    Chosen on `cskh eval kb` (0.2, 0.4 and 0: same short-question recall, 0.2 best on the
    long set). A prior on how usual each spelling is, for words typed without marks, was
    tried and changed nothing, so it is not here.
    """

    accent_mismatch = 0.2

    def __init__(self, passages: Sequence[Passage], title_boost: float) -> None:
        self._postings: dict[str, dict[int, float]] = {}
        # folded term -> its written forms, per passage
        self._forms: list[dict[str, set[str]]] = []
        for passage in passages:
            forms: dict[str, set[str]] = {}
            for folded, written in written_forms(
                f"{passage.title} {passage.section} {passage.text}"
            ):
                forms.setdefault(folded, set()).add(written)
            self._forms.append(forms)
        doc_freq: Counter[str] = Counter()
        for i, passage in enumerate(passages):
            body = Counter(_terms(passage.text))
            heading = set(_terms(f"{passage.title} {passage.section}"))
            weights: dict[str, float] = {}
            for term in set(body) | heading:
                # Saturating term frequency: a word said three times is not three times the match.
                tf = body.get(term, 0)
                weight = tf / (tf + 1.0)
                if term in heading:
                    weight = max(weight, 0.5) * title_boost
                weights[term] = min(weight, 1.0)
            for term, weight in weights.items():
                self._postings.setdefault(term, {})[i] = weight
            doc_freq.update(weights.keys())
        n = max(len(passages), 1)
        self._idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in doc_freq.items()}
        self._size = len(passages)

    def scores(
        self, query: str, reading: str | None = None, context: str | None = None
    ) -> np.ndarray:
        """Coverage of `query`'s terms per passage. The words the customer typed with marks
        are checked against each passage's spellings; with `reading` (the query with its
        marks put back, cskh/diacritics.py) the words of the reading are checked instead."""
        out = np.zeros(self._size, dtype=np.float32)
        # The spellings come from the words as written, not from the help center's words added
        # after them: the pair across that seam ("hoàn tiền" + "thoi gian" -> "tiền_thoi") is
        # half marked and would not match the passage's "tiền_thời".
        typed = {f: w for f, w in written_forms(reading or query) if has_diacritics(w)}
        query = with_help_center_words(query, context, reading)
        # Unknown terms cannot match anything; counting them would only shrink every score.
        # Sorted: summed in one order, the same terms give the same score to the last bit.
        terms = sorted(t for t in set(_terms(query)) if t in self._idf)
        total = sum(self._idf[t] for t in terms)
        if not total:
            return out
        for term in terms:
            idf = self._idf[term] / total
            as_typed = typed.get(term)
            for i, weight in self._postings[term].items():
                if as_typed is not None:
                    forms = self._forms[i].get(term)
                    # No forms: the term came from a teencode reading, not from the text.
                    if forms and as_typed not in forms:
                        weight *= self.accent_mismatch
                out[i] += idf * weight
        return out


class KnowledgeBase:
    """Loaded once per process (action server, hub, CLI) and shared by every request."""

    def __init__(
        self,
        passages: Sequence[Passage],
        vectors: np.ndarray,
        embedder: Embedder,
        config: SearchConfig | None = None,
        restorer: DiacriticRestorer | None = None,
    ) -> None:
        self.passages = list(passages)
        self.embedder = embedder
        self.config = config or SearchConfig()
        n = len(self.passages)
        self._original = np.ascontiguousarray(vectors[:n])
        self._folded = np.ascontiguousarray(vectors[n:])
        self._lexical = LexicalIndex(self.passages, self.config.title_boost)
        self.article_ids = sorted({p.article_id for p in self.passages})
        if restorer is None:
            restorer = DiacriticRestorer(
                [f"{p.title}. {p.section}. {p.text}" for p in self.passages]
                + list(everyday_texts())
            )
        self.restorer = restorer
        # Blended scores of the recent questions, for when one becomes the context of a
        # follow-up: it was searched moments ago, embedding it again would add ~25 ms.
        self._context_scores: OrderedDict[str, np.ndarray] = OrderedDict()
        self._context_lock = threading.Lock()

    @classmethod
    def load(
        cls,
        index_dir: Path,
        embedder: Embedder | None = None,
        config: SearchConfig | None = None,
    ) -> KnowledgeBase:
        """Load an index; with no embedder given, the one the index was built with."""
        if embedder is None:
            embedder = load_embedder(read_manifest(index_dir)["embedder"])
        data = load_index(index_dir, embedder)
        return cls(data.passages, data.vectors, embedder, config)

    @classmethod
    def from_passages(
        cls, passages: Sequence[Passage], embedder: Embedder, config: SearchConfig | None = None
    ) -> KnowledgeBase:
        """An in-memory knowledge base, for tests and small tools."""
        texts = [p.embedding_text() for p in passages]
        vectors = embedder.embed_passages(texts + [fold(t) for t in texts])
        return cls(passages, vectors, embedder, config)

    def with_config(self, config: SearchConfig) -> KnowledgeBase:
        """The same passages, vectors and restorer searched with other settings (ablations)."""
        vectors = np.concatenate([self._original, self._folded])
        return KnowledgeBase(self.passages, vectors, self.embedder, config, self.restorer)

    def dense_scores(
        self, query: str, known_vectors: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """Best cosine per passage over the query's variants.

        `known_vectors` maps a variant text to a unit query vector from this index's embedder
        (the hub's, see cskh/query_vector.py); only the other variants are embedded here.
        """
        # normalize() is also the text the hub's sentiment model embeds (triage.e5_text).
        variants = [normalize(query)]
        expanded = expand_teencode(query)
        if expanded != fold(query):
            variants.append(expanded)
        restored = self.restored_reading(query)
        if restored:
            variants.append(restored)
        known = known_vectors or {}
        missing = [v for v in variants if v not in known]
        fresh: dict[str, np.ndarray] = {}
        if missing:
            fresh = dict(zip(missing, self.embedder.embed_queries(missing), strict=True))
        q = np.stack([np.asarray(known.get(v, fresh.get(v)), dtype=np.float32) for v in variants])
        typed = q[:-1] if restored else q
        best = (self._folded @ typed.T).max(axis=1)  # (n, variants) -> n
        if has_diacritics(query):
            best = np.maximum(best, self._original @ q[0])
        if restored:
            # The restored reading has marks: it is compared with the passages as written.
            best = np.maximum(best, self._original @ q[-1])
        return best

    def restored_reading(self, query: str) -> str | None:
        """`query` with its marks put back, when it was typed without any and the search
        restores marks (`SearchConfig.restore_diacritics`); else None."""
        if not self.config.restore_diacritics or has_diacritics(query):
            return None
        reading = self.restorer.restore(query)
        # Nothing to put back (an order code, "iphone 11"): the folded vectors cover it.
        return reading if has_diacritics(reading) else None

    def score_all(
        self, query: str, dense: np.ndarray | None = None,
        known_vectors: Mapping[str, np.ndarray] | None = None,
        context: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Blended, dense and lexical scores of every passage for `query`.

        `context`: the question the customer asked just before, when `query` follows it up;
        the blended score then also counts how well a passage answers that question
        (`SearchConfig.context_weight`). Dense and lexical stay those of `query` alone."""
        cfg = self.config
        if dense is None:
            dense = self.dense_scores(query, known_vectors)
        weight = self._context_weight(query, context)
        lexical = self._lexical.scores(query, context=context if weight > 0 else None)
        span = cfg.dense_ceiling - cfg.dense_floor
        dense_scaled = np.clip((dense - cfg.dense_floor) / span, 0.0, 1.0)
        blended = cfg.dense_weight * dense_scaled + (1 - cfg.dense_weight) * lexical
        if context and weight > 0:
            before = self._scores_of_context(context.strip())
            blended = (blended + weight * before) / (1 + weight)
        else:
            # This question may be the context of the customer's next message.
            self._keep_context_scores(query.strip(), blended)
        return blended, dense, lexical

    def _context_weight(self, query: str, context: str | None) -> float:
        """How much the question before counts for `query` (0: there is none)."""
        if not context or not context.strip():
            return 0.0
        if asks_what_about(query):
            return self.config.what_about_context_weight
        return self.config.context_weight

    _CONTEXTS_KEPT = 256

    def _scores_of_context(self, context: str) -> np.ndarray:
        with self._context_lock:
            kept = self._context_scores.get(context)
            if kept is not None:
                self._context_scores.move_to_end(context)
                return kept
        return self.score_all(context)[0]  # kept by score_all

    def _keep_context_scores(self, text: str, scores: np.ndarray) -> None:
        with self._context_lock:
            self._context_scores[text] = scores
            self._context_scores.move_to_end(text)
            while len(self._context_scores) > self._CONTEXTS_KEPT:
                self._context_scores.popitem(last=False)

    def _scores_as_restored(
        self, query: str, blended: np.ndarray, lexical: np.ndarray, context: str | None
    ) -> np.ndarray:
        """`blended` with the lexical side checking the spellings of the restored reading
        (see `Hit.score_as_restored`); `blended` itself when there is no reading."""
        reading = self.restored_reading(query)
        if reading is None:
            return blended
        # The blend is linear in the lexical score, so only the lexical difference moves it.
        weight = self._context_weight(query, context)
        as_read = self._lexical.scores(query, reading, context if weight > 0 else None)
        drop = (1 - self.config.dense_weight) * (lexical - as_read)
        return blended - drop / (1 + weight)

    def _hit(
        self, i: int, blended: np.ndarray, dense: np.ndarray, lexical: np.ndarray,
        as_restored: np.ndarray,
    ) -> Hit:
        p = self.passages[i]
        return Hit(
            p.article_id, p.title, p.section, p.url, p.text,
            float(blended[i]), float(dense[i]), float(lexical[i]), float(as_restored[i]),
        )

    def search(
        self, query: str, top_k: int = 5, dense: np.ndarray | None = None,
        known_vectors: Mapping[str, np.ndarray] | None = None,
        context: str | None = None,
    ) -> list[Hit]:
        """Best passages first; `dense` or `known_vectors` reuse work a caller already did;
        `context` is the question `query` follows up (see `score_all`)."""
        if not query.strip() or not self.passages or top_k <= 0:
            return []
        blended, dense, lexical = self.score_all(query, dense, known_vectors, context)
        as_restored = self._scores_as_restored(query, blended, lexical, context)
        order = np.argsort(-blended, kind="stable")[:top_k]
        return [self._hit(int(i), blended, dense, lexical, as_restored) for i in order]

    def search_conversation(
        self,
        messages: Sequence[str],
        top_k: int = 3,
        recent: int = 4,
        decay: float = 0.85,
        focus: str | None = None,
    ) -> list[Hit]:
        """Passages for what a customer is asking now (agent assist), from their messages.

        Each of the last `recent` messages is searched on its own and a hit's score is
        discounted by `decay` per message of age: the whole transcript as one query let an
        early "phí ship bao nhiêu?" outweigh "2 tuần chưa thấy hàng" that the agent is
        reading. `focus` (the handoff summary's issue) counts as the newest message, the
        others one step older: a handoff's last lines are often an order code or "alo?",
        whose nearest articles (bank transfers for a digit string) are noise. One passage
        per article, best first."""
        texts = [m for m in messages if m.strip() and not m.lstrip().startswith("/")][-recent:]
        queries = list(reversed(texts))
        if focus and focus.strip():
            queries.insert(0, focus)
        best: dict[str, Hit] = {}
        for age, text in enumerate(queries):
            weight = decay**age
            for hit in self.search(text, top_k=top_k):
                scored = replace(
                    hit, score=hit.score * weight,
                    score_as_restored=hit.score_as_restored * weight,
                )
                kept = best.get(hit.article_id)
                if kept is None or scored.score > kept.score:
                    best[hit.article_id] = scored
        return sorted(best.values(), key=lambda h: -h.score)[:top_k]

    def search_within(
        self, query: str, article_id: str, top_k: int = 1, context: str | None = None
    ) -> list[Hit]:
        """Best passages of one article (the customer picked it from the offered titles)."""
        rows = [i for i, p in enumerate(self.passages) if p.article_id == article_id]
        if not rows:
            return []
        if not query.strip():
            blended = np.zeros(len(self.passages), dtype=np.float32)
            return [self._hit(i, blended, blended, blended, blended) for i in rows[:top_k]]
        blended, dense, lexical = self.score_all(query, context=context)
        as_restored = self._scores_as_restored(query, blended, lexical, context)
        rows.sort(key=lambda i: -blended[i])
        return [self._hit(i, blended, dense, lexical, as_restored) for i in rows[:top_k]]

    def passages_for(self, article_id: str) -> list[Passage]:
        return [p for p in self.passages if p.article_id == article_id]
