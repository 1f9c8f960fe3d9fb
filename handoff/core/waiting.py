"""A customer waiting for a person asks whether anyone is there, how long it will be, or
says they no longer need one.

While a conversation is queued, "alo alo", "có ai không?", "sao lâu vậy, chưa ai vào à" are
about the wait, not questions for the help center: the bot greeted "alo alo" ("Em là trợ lý
tự động, cần hỗ trợ gì ạ?") and searched "sao lâu vậy" (delivery areas). The hub answers
them with an apology and the customer's place instead. Accent-folded, so "chua ai vao" and
"chưa ai vào" read the same; only meaningful while queued ("alo shop ơi" opens a chat).
"""

from __future__ import annotations

import re

from cskh.text import fold

# The whole message, give or take "shop/ad ơi", particles and punctuation: what a waiting
# customer sends to see if anyone is there. "bao lâu nữa" alone is the wait; "bao lâu nữa
# thì nhận được hàng" is a question for the help center.
_CALLS = (
    r"(?:alo+|a lo|hello+|helo+|hi+|e+|ey|oi|co ai (?:khong|ko|k|o do khong|o day khong)"
    r"|con ai (?:khong|ko|k)|ai do|co nguoi khong|nhan vien dau(?: roi)?|nguoi dau(?: roi)?"
    r"|dau (?:roi|het roi)|bao lau nua|con lau khong|lau (?:qua|the|vay|the nhi)"
    r"|sao lau (?:vay|the|qua)|cho lau qua|doi lau qua|\?)"
)
_POLITE = r"(?:shop|ad|admin|ban|em|chi|anh|oi|a|ah|vay|z|nhi|nha|nhe|\?|!|\.|,)"
_WHOLE_CALL = re.compile(rf"^(?:{_POLITE} )*(?:{_CALLS} )+(?:{_POLITE} )*$")

# Anywhere in a message: nobody has come yet, or when it will be their turn.
_ABOUT_THE_WAIT = re.compile(
    r"\b(?:chua (?:co )?ai vao|chua thay ai|chua co ai (?:tra loi|rep|ho tro)"
    r"|sao lau (?:vay|the|qua)|lau qua vay"
    r"|(?:khi nao|bao gio|bao lau nua) (?:moi )?(?:co nguoi|co nhan vien|den luot)"
    r"|den luot (?:minh|em|toi|tui)|con phai cho|phai cho (?:bao lau|den bao gio)"
    # "tui đợi 10 phút rồi đó" (NLU: an order question); not "đợi 3 ngày rồi chưa có hàng"
    r"|(?:doi|cho) (?:\d+|mot|hai|ba|nua) ?(?:phut|p|tieng|gio|h)(?: dong ho)? roi)\b"
)
_NOT_A_WORD = re.compile(r"[^a-z0-9?!.,]+")
_PUNCTUATION = re.compile(r"([?!.,])")


def asks_about_the_wait(text: str) -> bool:
    """True for "alo alo", "có ai không ạ???", "sao lâu vậy, chưa ai vào à", "bao giờ mới
    có nhân viên"; False for questions that merely mention time ("bao lâu nữa thì nhận được
    hàng") and for anything else."""
    folded = _NOT_A_WORD.sub(" ", fold(text))
    spaced = " ".join(_PUNCTUATION.sub(r" \1 ", folded).split())
    if not spaced:
        return False
    return bool(_WHOLE_CALL.match(spaced + " ") or _ABOUT_THE_WAIT.search(spaced))


# The customer no longer wants a person: "thôi khỏi", "không cần nữa", "mình tự xử lý được
# rồi", "hủy yêu cầu giúp mình". The bot answered "thôi khỏi, không cần nữa" with a goodbye
# and the conversation stayed queued, for an agent to open later. "không cần nữa" can be
# about something else ("cái áo đó không cần nữa, đổi size L"), so the hub asks before it
# takes anyone out of the queue.
_STOP_WAITING = re.compile(
    r"\b(?:thoi khoi|khoi (?:can|cho|doi)(?: nua)?|thoi (?:khong|ko|k) (?:can|cho|doi)"
    r"|(?:khong|ko|k|hong) can (?:nua|gap|noi chuyen|nhan vien|nguoi|nv|ai (?:ho tro|giup))"
    r"|(?:khong|ko|k|hong) (?:cho|doi) (?:nua|duoc nua)"
    r"|huy (?:yeu cau(?: gap| ket noi| ho tro| nhe| di| giup| nha|$)|cho\b|hang cho|ket noi)"
    r"|(?:minh|em|toi|tui|to) (?:da |tu )?tu (?:xu ly|giai quyet|lam|sua|tim)"
    r"(?: \w+)? (?:duoc|xong) roi"
    r"|de (?:luc khac|hom khac|khi khac|sau) (?:minh|em|toi|tui)? ?(?:hoi|nhan|lien he)"
    r"|(?:ok|oke|duoc|on) roi (?:khong|ko|k) can)"
)


def wants_to_stop_waiting(text: str) -> bool:
    """True for "thôi khỏi", "không cần gặp nhân viên nữa", "mình tự xử lý được rồi", "hủy
    yêu cầu nhé"; False for a question or a complaint that merely says "không cần"
    ("có cần hóa đơn không", "hàng lỗi không cần đổi à")."""
    folded = " ".join(_NOT_A_WORD.sub(" ", fold(text)).split())
    return bool(_STOP_WAITING.search(folded))
