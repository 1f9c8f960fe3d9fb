"""Every sentence the hub itself writes in Vietnamese: customer notices, agent-facing errors.

One module so the voice stays one voice and a wording change is one edit. What customers
read is written in the persona's templates (cskh/persona.py); agent-facing text is plain.
Bot answers come from Rasa (`bot/domain.yml`, `actions/`); escalation replies from
`triage/escalation.yml`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

# ------------------------------------------------------------------ to the customer
# Templates in the assistant's voice ($shop, $em/$Em, $kh/$Kh: cskh/persona.py); the hub
# renders them with the configured persona before anything is stored or sent.
BOT_DOWN_REPLY = (
    "Dạ $em xin lỗi $kh, trợ lý tự động đang tạm thời gặp sự cố. Tin nhắn của $kh đã được "
    "lưu lại và $shop sẽ phản hồi sớm nhất có thể ạ."
)
ESCALATION_REPLY = (
    "Dạ $em rất tiếc vì trải nghiệm chưa tốt của $kh. $Em đang chuyển cuộc trò chuyện tới "
    "nhân viên hỗ trợ, $kh vui lòng chờ trong giây lát ạ."
)
# Out of hours, instead of an escalation reply that promises a person "in a moment".
HANDED_OVER_CLOSED = (
    "Dạ $em rất tiếc vì sự bất tiện này. $Em đã chuyển toàn bộ nội dung cho nhân viên hỗ trợ "
    "của $shop, $kh không cần nhắc lại ạ."
)
# A conversation the queue did not admit (too many handoffs from one address this hour).
HANDOFF_NOT_ADMITTED = (
    "Dạ hiện đang có rất nhiều yêu cầu gặp nhân viên từ kết nối của $kh. $Em vẫn ở đây để "
    "hỗ trợ; $kh vui lòng thử lại yêu cầu gặp nhân viên sau ít phút ạ."
)
CSAT_QUESTION = (
    "Cuộc trò chuyện với nhân viên đã kết thúc. $Kh hài lòng với sự hỗ trợ của $shop ở mức "
    "nào ạ? (1 = rất không hài lòng, 5 = rất hài lòng)"
)
CSAT_THANKS = "Dạ $em cảm ơn $kh đã đánh giá! Nếu cần thêm gì, $kh cứ nhắn cho $em nhé."
CSAT_BUTTONS = [{"title": f"{n} ⭐", "payload": f'/csat{{"score":{n}}}'} for n in range(1, 6)]
CONTACT_INVITE = (
    "Nếu muốn, $kh có thể để lại số điện thoại hoặc email, nhân viên sẽ liên hệ lại với $kh."
)
HANDED_BACK = "Trợ lý tự động sẽ tiếp tục hỗ trợ $kh."
TRANSFERRED_TO_TEAM = (
    "Cuộc trò chuyện đang được chuyển tới bộ phận phù hợp, $kh vui lòng chờ giúp $em nhé."
)
# A customer already waiting for a person writes what the bot cannot answer.
FOLLOW_UP_NOTED = (
    "Dạ $em đã ghi nhận tin nhắn này, nhân viên sẽ đọc khi tiếp nhận cuộc trò chuyện ạ."
)
# Said before the help center's answer to the message that queued a calm customer for a
# complex case (a dented parcel, a double charge): what the shop's policy says about it, and
# what to have ready, while nobody is there yet (the agent still handles the case).
WHILE_YOU_WAIT = "Dưới đây là hướng dẫn của $shop cho trường hợp này để $kh tham khảo trước ạ:"
# A customer waiting for a person asks whether anyone is there ("alo alo", "có ai không"),
# or asks for a person again; the place in the queue follows.
STILL_HERE = "Dạ $em vẫn ở đây ạ, xin lỗi vì để $kh phải chờ."
WAIT_SHORT = "Nhân viên sẽ phản hồi $kh trong giây lát ạ."
# A waiting customer says they no longer need a person ("thôi khỏi, không cần nữa"): asked
# before the queue lets them go, since "không cần nữa" may be about something else.
LEAVE_QUEUE = "/leave_queue"
KEEP_WAITING = "/keep_waiting"
LEAVE_QUEUE_QUESTION = (
    "$Kh muốn hủy yêu cầu gặp nhân viên phải không ạ? Nếu vẫn cần, $kh cứ tiếp tục chờ, "
    "$em giữ nguyên vị trí cho $kh."
)
LEAVE_QUEUE_BUTTONS = [
    {"title": "Hủy yêu cầu", "payload": LEAVE_QUEUE},
    {"title": "Tiếp tục chờ", "payload": KEEP_WAITING},
]
LEFT_QUEUE = (
    "Dạ $em đã hủy yêu cầu gặp nhân viên. $Kh cần gì cứ nhắn $em, hoặc nhắn \"gặp nhân viên\" "
    "khi cần người hỗ trợ nhé."
)
KEPT_WAITING = "Dạ vâng, $em giữ nguyên vị trí của $kh trong hàng chờ ạ."
# One of those buttons pressed after the wait ended (an agent took the chat, or it was left).
NOT_WAITING = "Dạ hiện $kh không còn trong hàng chờ ạ. $Kh cần hỗ trợ gì cứ nhắn $em nhé."
ATTACHMENT_RECEIVED = (
    "Dạ $em đã nhận được tệp/hình ảnh $kh gửi. $Kh mô tả thêm bằng lời giúp $em nhé, "
    "nhân viên cũng sẽ xem được tệp này."
)


# The bot's "..., hoặc nhắn "gặp nhân viên" để được hỗ trợ" is for a customer talking to the
# bot; one already waiting for a person (the order look-up said it in the queue) is told
# instead that the person will help, and the "Gặp nhân viên" button is not shown.
_ASK_FOR_A_PERSON_CLAUSE = re.compile(r',? hoặc (?:nhắn|bấm) "[Gg]ặp nhân viên" để [^.]*\.')
_ASK_FOR_A_PERSON_SENTENCE = re.compile(
    r'(?:^|(?<=\. ))[^.]*\$[Kk]h (?:nhắn|bấm) "[Gg]ặp nhân viên" để [^.]*\.'
)
PERSON_WILL_HELP_CLAUSE = "; nhân viên sẽ hỗ trợ $kh khi tiếp nhận cuộc trò chuyện ạ."
PERSON_WILL_HELP = "Nhân viên sẽ hỗ trợ $kh khi tiếp nhận cuộc trò chuyện ạ."
ASK_FOR_A_PERSON_PAYLOAD = "/request_human"


def for_a_waiting_customer(text: str, meta: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A bot reply (template text, meta with its buttons) without its invitation to ask for
    a person, for a customer already in the queue."""
    text = _ASK_FOR_A_PERSON_CLAUSE.sub(PERSON_WILL_HELP_CLAUSE, text)
    text = _ASK_FOR_A_PERSON_SENTENCE.sub(PERSON_WILL_HELP, text)
    out = dict(meta)
    if out.get("buttons"):
        out["buttons"] = [
            b for b in out["buttons"] if b.get("payload") != ASK_FOR_A_PERSON_PAYLOAD
        ]
        if not out["buttons"]:
            del out["buttons"]
    return text, out


def contact_thanks(phones: Sequence[str], emails: Sequence[str]) -> str:
    left = ", ".join([*phones, *emails])
    return f"Dạ $em cảm ơn $kh! $shop đã ghi nhận thông tin liên hệ ({left}) và sẽ liên hệ lại sớm."


def agent_joined(name: str) -> str:
    return f"Nhân viên {name} đã tham gia cuộc trò chuyện."


def agent_took_over(name: str) -> str:
    return f"Nhân viên {name} sẽ tiếp tục hỗ trợ $kh."


def agent_left(name: str) -> str:
    return f"Nhân viên {name} đã rời cuộc trò chuyện. {HANDED_BACK}"


def queue_position(position: int, minutes: int) -> str:
    return (
        f"$Kh đang ở vị trí số {position} trong hàng chờ. "
        f"Thời gian chờ dự kiến khoảng {minutes} phút."
    )


def nobody_online(position: int) -> str:
    return (
        f"$Kh đang ở vị trí số {position} trong hàng chờ. Hiện chưa có nhân viên nào trực "
        "tuyến; nhân viên sẽ trả lời ngay khi vào ca. Trong lúc chờ, $em vẫn trả lời được các "
        "câu hỏi thường gặp và tra cứu đơn hàng cho $kh ạ."
    )


def out_of_hours(hours: str, opens: str, *, invite: bool = True) -> str:
    """`invite`: ask for a phone number or e-mail (not when the customer gave one already)."""
    return (
        f"Hiện đã ngoài giờ làm việc của bộ phận hỗ trợ ({hours.replace('-', '–')}). "
        f"Nhân viên sẽ trả lời $kh từ {opens}. Tin nhắn của $kh đã được lưu lại. "
        + (CONTACT_INVITE if invite else "")
    ).strip()


def local_time(local: datetime, today: date) -> str:
    when = local.strftime("%H:%M")
    if local.date() == today:
        return f"{when} hôm nay"
    if local.date() == today + timedelta(days=1):
        return f"{when} sáng mai" if local.hour < 12 else f"{when} ngày mai"
    return f"{when} ngày {local.strftime('%d/%m')}"


def transfer_note(note: str) -> str:
    return f"Ghi chú chuyển tiếp: {note}"


# The agents' canned replies unless CSKH_HUB_CANNED_REPLIES_FILE names a JSON list.
DEFAULT_CANNED = [
    "Dạ $em chào $kh, $em là nhân viên hỗ trợ của $shop. $Em đã đọc nội dung $kh trao đổi, "
    "$em kiểm tra ngay ạ.",
    "$Kh vui lòng cho $em xin mã đơn hàng (ví dụ DH123456) để $em kiểm tra nhé.",
    "Dạ $em rất xin lỗi vì sự bất tiện này. $Em sẽ xử lý ngay cho $kh ạ.",
    "$Kh vui lòng chờ $em một chút, $em đang kiểm tra thông tin ạ.",
    "Dạ vấn đề của $kh đã được xử lý. $Kh còn cần $em hỗ trợ gì thêm không ạ?",
]

# ------------------------------------------------------------ error codes -> wording
# Placeholders are filled from the error's params; a missing one falls back to the code.
ERRORS: dict[str, str] = {
    # input checks (every channel)
    "message_required": "Thiếu nội dung tin nhắn (message).",
    "invalid_text": "Tin nhắn chứa ký tự không hợp lệ.",
    "empty_message": "Tin nhắn trống, vui lòng nhập nội dung.",
    "message_too_long": "Tin nhắn quá dài ({length} ký tự), tối đa {limit} ký tự.",
    "sender_required": "Thiếu mã người gửi (sender).",
    "invalid_sender": "Mã người gửi (sender) không hợp lệ.",
    "body_too_large": "Yêu cầu quá lớn (tối đa {limit} byte).",
    "invalid_utf8": "Nội dung không phải UTF-8 hợp lệ.",
    "invalid_json": "Nội dung không phải JSON hợp lệ.",
    "invalid_payload": 'Cần một đối tượng JSON {{"sender", "message"}}.',
    "invalid_socket_payload": "Dữ liệu gửi lên không hợp lệ.",
    "invalid_metadata": "metadata phải là một đối tượng JSON.",
    "invalid_message_id": (
        "Mã tin nhắn (message_id) không hợp lệ: tối đa 128 ký tự, không có ký tự điều khiển."
    ),
    "invalid_request": "Yêu cầu không hợp lệ (kiểm tra: {fields}).",
    "unreadable_body": "Không đọc được nội dung yêu cầu: cần JSON mã hoá UTF-8.",
    "no_such_route": "Không có địa chỉ này.",
    "method_not_allowed": "Địa chỉ này không nhận phương thức đó.",
    "http_error": "Yêu cầu không thực hiện được ({reason}).",
    "no_session": "Thiếu mã phiên (session_id).",
    "outside_reply_window": (
        "Đã quá thời hạn nền tảng cho phép trả lời khách này (hết hạn lúc {until}): "
        "chờ khách nhắn lại hoặc liên hệ qua kênh khác."
    ),
    # Error wordings reach customers and agents alike: impersonal, so no persona is needed.
    "rate_limited": (
        "Tin nhắn được gửi quá nhanh, vui lòng thử lại sau {retry_after} giây. "
        "Tin nhắn vừa rồi chưa được gửi."
    ),
    "login_locked": (
        "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {retry_after} giây."
    ),
    "internal_error": "Xin lỗi, hệ thống đang bận. Tin nhắn đã được lưu, vui lòng thử lại.",
    # access
    "rest_disabled": (
        "Kênh REST đang tắt: đặt CSKH_HUB_REST_TOKEN để bật nó trong môi trường production."
    ),
    "unauthorized": "Bạn cần đăng nhập.",
    "bad_token": "Thiếu hoặc sai mã truy cập (Authorization: Bearer).",
    "bad_credentials": "Sai tên đăng nhập hoặc mật khẩu.",
    "csrf": "Thiếu header X-Requested-With.",
    "supervisor_only": "Chỉ giám sát viên được làm việc này.",
    # conversations
    "not_found": "Không tìm thấy cuộc trò chuyện.",
    "already_claimed": "{by} đã nhận cuộc trò chuyện này trước bạn.",
    "not_waiting": "Cuộc trò chuyện này không còn chờ nhân viên.",
    "not_assigned": "Cuộc trò chuyện không do nhân viên phụ trách.",
    "not_owner": "Cuộc trò chuyện do nhân viên khác phụ trách.",
    "invalid_transition": "Không thể chuyển trạng thái {from_state} -> {to_state}.",
    "missing_target": "Cần chọn nhân viên hoặc nhóm nhận.",
    "same_agent": "Nhân viên này đang phụ trách rồi.",
    "store_conflict": "Không lưu được tin nhắn, vui lòng thử lại.",
    # agents
    "agent_not_found": "Không tìm thấy nhân viên.",
    "agent_inactive": "Tài khoản nhân viên không còn hoạt động.",
    "agent_exists": "Nhân viên {username!r} đã tồn tại.",
    "invalid_role": "Vai trò phải là một trong: {allowed}.",
    "invalid_username": "Tên đăng nhập: 2-64 ký tự chữ, số hoặc _.@-",
    "weak_password": "Mật khẩu cần ít nhất 8 ký tự.",
    "invalid_capacity": "Sức chứa phải từ 0 đến 100.",
    "invalid_status": "Trạng thái phải là một trong: {allowed}.",
    "agent_away": (
        "Bạn đang ở trạng thái Vắng mặt: hãy chuyển sang Trực tuyến để nhận cuộc trò chuyện."
    ),
    "target_away": "{name} đang Vắng mặt: hãy chuyển cho nhóm để người rảnh tiếp nhận.",
    "at_capacity": (
        "Bạn đang phụ trách {load}/{capacity} cuộc trò chuyện (đã đủ sức chứa): "
        "hãy giải quyết bớt trước khi nhận thêm."
    ),
    "target_at_capacity": (
        "{name} đang phụ trách {load}/{capacity} cuộc trò chuyện (đã đủ sức chứa): "
        "hãy chuyển cho nhóm."
    ),
}


def error_text(code: str, params: Mapping[str, Any] | None = None) -> str:
    template = ERRORS.get(code)
    if template is None:
        return code
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError, ValueError):
        return template


# ------------------------------------------------------------ Messenger (channels/messenger.py)
# Delivery failures are read by agents next to the message; webhook errors by whoever sets up
# the Page's webhook.
MESSENGER_CHOOSE = "$Kh chọn giúp $em một trong các lựa chọn dưới đây nhé."

_MESSENGER_FAILURES = {
    "window": (
        "Messenger từ chối vì đã ngoài khung thời gian được phép nhắn cho khách{where}. "
        "Chờ khách nhắn lại hoặc liên hệ qua kênh khác."
    ),
    "unavailable": (
        "Khách hiện không nhận được tin nhắn Messenger (có thể đã chặn Trang hoặc khóa "
        "tài khoản){where}."
    ),
    "recipient": "Messenger không chấp nhận người nhận hoặc nội dung tin nhắn{where}.",
    "token": (
        "Mã truy cập Trang (page access token) không hợp lệ hoặc đã hết hạn{where}: quản trị "
        "viên cần cấp lại CSKH_HUB_MESSENGER_PAGE_ACCESS_TOKEN."
    ),
    "permission": "Ứng dụng chưa có quyền gửi tin nhắn cho Trang này{where}.",
    "rejected": "Messenger từ chối tin nhắn{where}.",
    "rate_limited": "Messenger đang giới hạn tốc độ gửi{where}, hệ thống sẽ tự gửi lại.",
    "platform_down": "Messenger đang tạm thời gặp lỗi{where}, hệ thống sẽ tự gửi lại.",
    "unreachable": "Không kết nối được tới Messenger{where}, hệ thống sẽ tự gửi lại.",
}


def messenger_failure(
    kind: str,
    *,
    status: int | None = None,
    code: int | None = None,
    subcode: int | None = None,
    detail: str = "",
) -> str:
    """Why a message did not go out on Messenger, for the agent (Meta's own words appended)."""
    where = []
    if status is not None:
        where.append(f"HTTP {status}")
    if code is not None:
        where.append(f"mã {code}" + (f"/{subcode}" if subcode is not None else ""))
    text = _MESSENGER_FAILURES.get(kind, _MESSENGER_FAILURES["rejected"])
    text = text.format(where=f" ({', '.join(where)})" if where else "")
    return f"{text} Chi tiết: {detail}" if detail else text


def messenger_window_closed(last_seen: str, *, by_person: bool, hours: float, days: float) -> str:
    if by_person:
        return (
            f"Không gửi được qua Messenger: khách nhắn lần cuối {last_seen}, đã quá {days:g} ngày "
            "Messenger cho phép nhân viên trả lời. Chờ khách nhắn lại hoặc liên hệ qua kênh khác."
        )
    return (
        f"Không gửi được qua Messenger: khách nhắn lần cuối {last_seen}, đã quá {hours:g} giờ "
        f"Messenger cho phép gửi tin tự động. Chỉ nhân viên trả lời được (trong {days:g} ngày)."
    )


ERRORS.update(
    {
        "messenger_bad_signature": "Chữ ký X-Hub-Signature-256 bị thiếu hoặc không đúng.",
        "messenger_verify_failed": "Yêu cầu xác minh webhook Messenger không hợp lệ "
        "(hub.mode hoặc hub.verify_token sai).",
        "messenger_invalid_payload": "Cần một đối tượng JSON sự kiện webhook của Messenger.",
    }
)


# ====================================================== Zalo OA (handoff/channels/zalo.py)
# Zalo has no buttons: offered choices are sent as a numbered list followed by this hint.
ZALO_CHOICE_HINT = "$Kh trả lời giúp $em bằng số thứ tự hoặc nội dung lựa chọn nhé."

# Why a message could not be sent through Zalo, as the agent sees it on the message.
ZALO_REFUSALS: dict[int, str] = {
    -201: "tham số không hợp lệ (có thể mã người nhận không đúng)",
    -204: "OA đã bị vô hiệu hóa",
    -205: "OA không tồn tại",
    -209: "ứng dụng Zalo chưa được kích hoạt",
    -210: "nội dung vượt giới hạn cho phép",
    -211: "OA đã hết hạn mức (quota) gửi tin",
    -212: "ứng dụng chưa đăng ký dùng Official Account API",
    -213: "khách chưa quan tâm OA hoặc đã bỏ quan tâm",
    -217: "khách đã chặn OA",
    -218: "khách đã nhận quá số tin OA được phép gửi (hết hạn mức nhận)",
    -219: "ứng dụng Zalo đã bị gỡ hoặc vô hiệu hóa",
    -221: "OA cần được xác thực để dùng tính năng này",
    -223: "OA chưa cấp quyền cho ứng dụng dùng API này",
    -224: "OA cần nâng cấp gói dịch vụ để dùng tính năng này",
    -227: "tài khoản Zalo của khách bị khóa hoặc không hoạt động quá 45 ngày",
    -230: "khách đã quá 7 ngày không tương tác với OA nên không thể gửi tin tư vấn",
    -232: "khách chưa tương tác với OA hoặc lần tương tác gần nhất đã hết hạn",
    -233: "loại tin nhắn không hợp lệ hoặc không được hỗ trợ",
    -235: "API này không hỗ trợ loại OA hiện tại",
    -244: "khách đã chặn loại tin nhắn này từ OA",
    -248: "nội dung vi phạm tiêu chuẩn của Zalo",
    -320: "ứng dụng chưa liên kết tài khoản Zalo Cloud để dùng tính năng trả phí",
    -321: "tài khoản Zalo Cloud của ứng dụng hết tiền hoặc không thanh toán được",
}


def zalo_refused(code: int, message: str) -> str:
    reason = ZALO_REFUSALS.get(code) or message or "lỗi không rõ"
    return f"Zalo từ chối tin nhắn: {reason} (mã {code})."


def zalo_retrying(code: int, message: str) -> str:
    return f"Zalo tạm thời chưa nhận tin nhắn ({message or 'lỗi không rõ'}, mã {code}), sẽ thử lại."


def zalo_window_closed(days: float, until: str) -> str:
    return (
        f"Không gửi được qua Zalo: đã quá {days:g} ngày kể từ lần cuối khách tương tác với OA "
        f"(hết hạn lúc {until}). Chờ khách nhắn lại hoặc liên hệ qua kênh khác."
    )


def zalo_unreachable(detail: str) -> str:
    return f"Không kết nối được Zalo ({detail}), sẽ thử lại."


def zalo_http_error(status: int) -> str:
    return f"Zalo trả lỗi HTTP {status}, sẽ thử lại."


ZALO_BAD_RESPONSE = "Zalo trả về phản hồi không đọc được, sẽ thử lại."
ZALO_TOKEN_STILL_INVALID = (
    "Zalo vẫn không chấp nhận access token vừa làm mới: kiểm tra ứng dụng Zalo và quyền của OA."
)
ZALO_CANNOT_REFRESH = (
    "Access token Zalo đã hết hạn nhưng không làm mới được: thiếu refresh token hoặc "
    "CSKH_HUB_ZALO_APP_SECRET."
)


def zalo_refresh_refused(detail: str) -> str:
    return (
        f"Zalo từ chối làm mới access token ({detail}): quản trị viên OA cần cấp quyền lại "
        "cho ứng dụng và đặt cặp token mới."
    )


ERRORS.update(
    {
        "zalo_bad_signature": "Thiếu hoặc sai chữ ký X-ZEvent-Signature.",
        "zalo_invalid_event": "Sự kiện Zalo không đúng định dạng.",
    }
)
TIMED_OUT = "hết thời gian chờ"
ZALO_TOKEN_RESPONSE_INVALID = "phản hồi không hợp lệ"


def zalo_no_new_token(detail: str, code: object) -> str:
    return f"{detail or 'không có token mới'}, mã {code}"
