"""Vietnamese text tools shared by search, sentiment and escalation.

Customers type with and without diacritics and in teencode ("ko dc", "sp", "ck"), so every
matcher compares an accent-folded, teencode-expanded form as well as the original.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import pairwise

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+")

# Folded teencode / abbreviation -> folded expansion ("a|b": either reading, both kept). Only
# forms that are unambiguous in a shop's chat are here: "mk" (mình / mật khẩu), "hong"
# (hông / hỏng) and "vc" (vận chuyển / profanity) are left alone because a wrong expansion
# hurts more than a missing one.
TEENCODE: dict[str, str] = {
    "ko": "khong",
    "k": "khong",
    "kh": "khong",
    "khg": "khong",
    "hok": "khong",
    "hem": "khong",
    "khum": "khong",
    "kg": "khong",
    "dc": "duoc",
    "dk": "duoc",
    "duoc": "duoc",
    "sp": "san pham",
    "ship": "ship|van chuyen|giao hang",
    "shiper": "shipper|giao hang",
    "shipper": "shipper|giao hang",
    "ck": "chuyen khoan",
    "tk": "tai khoan",
    "pass": "mat khau",
    "password": "mat khau",
    "r": "roi",
    "j": "gi",
    "z": "vay",
    "v": "vay",
    "ntn": "nhu the nao",
    "bn": "bao nhieu",
    "bnhieu": "bao nhieu",
    "bnh": "bao nhieu",
    "cty": "cong ty",
    "vs": "voi",
    "nv": "nhan vien",
    "ad": "admin",
    "sdt": "so dien thoai",
    "dt": "dien thoai",
    "tl": "tra loi",
    "ib": "nhan tin",
    "inbox": "nhan tin",
    "hn": "ha noi",
    "hcm": "ho chi minh",
    "tphcm": "ho chi minh",
    "sg": "sai gon|ho chi minh",
    "km": "khuyen mai",
    "tt": "thanh toan",
    "mun": "muon",
    "trc": "truoc",
    "ng": "nguoi",
    "cx": "cung",
    "lm": "lam",
    "ms": "moi",
    "dag": "dang",
    "cskh": "cham soc khach hang",
    "ktra": "kiem tra",
    "kt": "kiem tra",
    "hd": "hoa don",
    "vat": "vat|hoa don",
    "voucher": "voucher|ma giam gia",
    "freeship": "freeship|mien phi van chuyen",
    # "free ship", "lắp free không": customers' word for "miễn phí"
    "free": "free|mien phi",
    "code": "ma",
    "otp": "otp|ma xac nhan",
    "refund": "hoan tien",
    "cancel": "huy",
    "order": "don hang",
    "bik": "biet",
    "bit": "biet",
    "hix": "",
    "ak": "a",
    "ah": "a",
    "oke": "ok",
    "okie": "ok",
    "tks": "cam on",
    "thanks": "cam on",
    "thank": "cam on",
    # "ty" is also the "ty" of "công ty" and "tỷ" (a billion): both readings are kept.
    "ty": "ty|cam on",
    "nhiu": "nhieu",
    "lun": "luon",
    "wa": "qua",
    "qa": "qua",
    "mn": "moi nguoi",
    "dh": "don hang",
    "gh": "giao hang",
    "hnay": "hom nay",
    "hqua": "hom qua",
    "bg": "bao gio",
    "bjo": "bao gio",
    "bh": "bao gio|bao hanh",
}

_VIETNAMESE_MARKS = re.compile(
    "[àáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵđ]"
)


def normalize(text: str) -> str:
    """NFC, lower case, no zero-width characters, single spaces."""
    text = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH)
    return _SPACES.sub(" ", text).strip().lower()


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Lower-case text with Vietnamese diacritics removed ("Phí ship" -> "phi ship")."""
    text = normalize(text).replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def has_diacritics(text: str) -> bool:
    """True when the text carries Vietnamese tone or vowel marks (or đ)."""
    return bool(_VIETNAMESE_MARKS.search(normalize(text)))


def words(text: str) -> list[str]:
    """Folded word tokens, teencode left as typed."""
    return _WORD.findall(fold(text))


def alternatives(text: str) -> list[list[list[str]]]:
    """Folded words as slots of alternative readings: "phi ship" -> [[["phi"]],
    [["ship"], ["van", "chuyen"], ["giao", "hang"]]]. Lets a matcher form word pairs with
    every reading without inventing pairs across two readings ("chuyen giao")."""
    slots: list[list[list[str]]] = []
    for word in words(text):
        expansion = TEENCODE.get(word)
        if expansion is None:
            slots.append([[word]])
        elif expansion:
            slots.append([alt.split() for alt in expansion.split("|")])
    return slots


def expand_teencode(text: str) -> str:
    """Folded text with teencode and shop abbreviations spelled out (every reading)."""
    return " ".join(" ".join(" ".join(alt) for alt in slot) for slot in alternatives(text))


def tokens(text: str) -> list[str]:
    """Folded, teencode-expanded tokens: the form every lexical matcher compares."""
    return expand_teencode(text).split()


def bigrams(text: str) -> list[str]:
    """Adjacent word pairs ("ha_noi") over every reading of the folded text."""
    slots = alternatives(text)
    pairs: list[str] = []
    for i, slot in enumerate(slots):
        for alt in slot:
            pairs.extend(f"{a}_{b}" for a, b in pairwise(alt))
        if i + 1 < len(slots):
            pairs.extend(
                f"{alt[-1]}_{nxt[0]}" for alt in slot for nxt in slots[i + 1]
            )
    return pairs


# "còn X (thì sao)?": the same question about X. Typed with marks it must be "còn" ("con này
# bao nhiêu" is "this one"); "thế còn", "vậy còn" lead in.
_WHAT_ABOUT = re.compile(r"^(?:thế |vậy |the |vay )?(?:còn|con)\b")
# ... but "còn hàng không?", "còn bảo hành ko" ask whether something is still there: a
# yes/no question is a question of its own.
_YES_NO = frozenset("khong ko k kh hong hok chua".split())


def asks_what_about(message: str) -> bool:
    """True for "còn X thì sao?" and the like: the question before, asked about X."""
    text = normalize(message)
    match = _WHAT_ABOUT.match(text if has_diacritics(text) else fold(text))
    if match is None or (has_diacritics(text) and "còn" not in match.group(0)):
        return False
    return not _YES_NO.intersection(words(text))
