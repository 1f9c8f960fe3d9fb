"""What a customer waiting for a person sends to ask whether anyone is there, or to say they
no longer need one (handoff/core)."""

from __future__ import annotations

import pytest

from handoff.core.waiting import asks_about_the_wait, wants_to_stop_waiting


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


@pytest.mark.parametrize(
    "text",
    [
        "thôi khỏi, không cần nữa", "thoi khoi", "không cần nữa đâu shop",
        "thôi không cần gặp nhân viên nữa", "ko can nv nua", "thôi không chờ nữa",
        "khỏi đợi nữa", "hủy yêu cầu", "huy yeu cau giup minh", "hủy chờ giúp em",
        "mình tự xử lý được rồi", "em tự tìm được rồi ạ", "tui tự làm xong rồi",
        "để lúc khác mình hỏi", "ok rồi không cần đâu",
    ],
)
def test_saying_a_person_is_no_longer_needed(text: str) -> None:
    assert wants_to_stop_waiting(text)


@pytest.mark.parametrize(
    "text",
    [
        # questions and complaints that say "không cần" or "hủy" about something else
        "có cần hóa đơn không", "hàng lỗi không cần đổi à", "hủy yêu cầu đổi trả thế nào",
        "mình muốn hủy đơn", "không cần gói quà", "chuyển khoản có cần ghi nội dung không",
        # the wait itself, and anger: a person should still call back
        "tôi đã chờ 30 phút rồi", "sao lâu vậy", "gặp nhân viên", "", "ok", "cảm ơn",
    ],
)
def test_other_messages_do_not_leave_the_queue(text: str) -> None:
    assert not wants_to_stop_waiting(text)


def _bot_texts_inviting_a_person() -> list[str]:
    from actions import actions, faq, orders

    return [
        orders.not_found_text("DH123456"), orders.wrong_last4_text("DH123456", 2),
        orders.locked_text("DH123456"), orders.TOO_MANY_LOOKUPS_TEXT,
        actions.KB_UNAVAILABLE_TEXT, faq.NO_ANSWER_TEXT, faq.NOT_HELPFUL_TEXT,
    ]


@pytest.mark.parametrize("text", _bot_texts_inviting_a_person())
def test_a_waiting_customer_is_told_the_person_will_help_not_to_ask_for_one(text: str) -> None:
    from handoff.core.copy_vi import for_a_waiting_customer

    button = {"title": "Gặp nhân viên", "payload": "/request_human"}
    other = {"title": "Chính sách đổi trả", "payload": "/choose_article"}
    waiting, meta = for_a_waiting_customer(text, {"buttons": [other, button], "kind": "x"})
    assert "gặp nhân viên" in text.lower()
    assert "gặp nhân viên" not in waiting.lower()
    assert "Nhân viên sẽ hỗ trợ $kh" in waiting or "nhân viên sẽ hỗ trợ $kh" in waiting
    assert waiting.endswith(".") and ".." not in waiting and " ;" not in waiting
    assert meta == {"buttons": [other], "kind": "x"}
    # what comes before the invitation is kept
    assert waiting.split(";")[0].split(". ")[0] == text.split(". ")[0]
