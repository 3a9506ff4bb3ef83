"""The digest email's own interface strings (list footers come from the shared strings)."""

from __future__ import annotations

from broadcaster.workspace.models import DEFAULT_LOCALE, Frequency

_STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "subject_daily": "Thông báo mới trong ngày {date}",
        "subject_weekly": "Thông báo mới trong tuần đến ngày {date}",
        "intro_daily": "Các thông báo về dịch vụ công đã đăng trong ngày, theo chủ đề bạn chọn:",
        "intro_weekly": "Các thông báo về dịch vụ công đã đăng trong tuần, theo chủ đề bạn chọn:",
        "published": "Đăng ngày",
        "read_more": "Đọc toàn văn",
        "fallback_entry": "chỉ có bằng tiếng Việt",
        "urgent": "Khẩn",
        "updated": "Đã cập nhật",
        "withdrawn": "Đã thu hồi",
        "withdrawn_note": "Thông báo này đã được thu hồi và không còn áp dụng.",
        "reason": "Lý do",
    },
    "en": {
        "subject_daily": "New announcements on {date}",
        "subject_weekly": "New announcements in the week to {date}",
        "intro_daily": "Public service announcements published today, in the topics you chose:",
        "intro_weekly": (
            "Public service announcements published this week, in the topics you chose:"
        ),
        "published": "Published",
        "read_more": "Read it in full",
        "fallback_entry": "in Vietnamese only",
        "urgent": "Urgent",
        "updated": "Updated",
        "withdrawn": "Withdrawn",
        "withdrawn_note": "This notice has been withdrawn and no longer applies.",
        "reason": "Reason",
    },
}


def digest_text(key: str, locale: str) -> str:
    """The digest string `key` in `locale`: English for other languages, then Vietnamese."""
    table = _STRINGS.get(locale) or _STRINGS["en"]
    return table.get(key) or _STRINGS[DEFAULT_LOCALE][key]


def period_key(frequency: Frequency) -> str:
    """`daily` or `weekly`, the suffix of the period-dependent strings."""
    return "weekly" if frequency == Frequency.WEEKLY else "daily"
