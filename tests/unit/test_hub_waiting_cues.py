"""What a customer waiting for a person sends to ask whether anyone is there (handoff/core)."""

from __future__ import annotations

import pytest

from handoff.core.waiting import asks_about_the_wait


@pytest.mark.parametrize(
    "text",
    [
        "alo alo", "alooo", "có ai không ạ???", "ad ơi có ai không", "shop ơi", "??",
        "nhân viên đâu rồi", "lâu quá vậy", "còn lâu không shop", "hello",
        # anywhere in a longer message
        "sao lâu vậy, chưa ai vào à", "bao giờ mới có nhân viên", "khi nào đến lượt mình",
        "chua ai vao ho tro a", "mình phải chờ đến bao giờ", "tui đợi 10 phút rồi đó",
        "chờ nửa tiếng rồi",
    ],
)
def test_asking_whether_anyone_is_there(text: str) -> None:
    assert asks_about_the_wait(text)


@pytest.mark.parametrize(
    "text",
    [
        # questions for the help center or the order desk, even when they mention time
        "alo shop ơi cho hỏi phí ship", "bao lâu nữa thì nhận được hàng",
        "đổi trả mất mấy ngày?", "chờ mãi chưa nhận được hàng",
        "chờ mãi rồi mà chưa nhận được hàng", "đơn DH123456 tới đâu rồi",
        "hi shop cho hỏi đổi trả", "đợi 3 ngày rồi chưa có hàng",
        # answers, thanks and requests the bot handles
        "cảm ơn", "ok", "vâng", "gặp nhân viên", "", "   ", "😡",
    ],
)
def test_other_messages_are_not_about_the_wait(text: str) -> None:
    assert not asks_about_the_wait(text)
