"""Text the app accepts from people: characters that do not show, and text made only of them."""
from __future__ import annotations

import re

CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# invisible characters that change how a name reads or sorts: zero-width spaces and joiners,
# text-direction controls (U+202E shows "书记甲\u202e乙丙" backwards on sheets and boards), BOM
INVISIBLE_CHARS = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def visible_text(value) -> str:
    """``value`` stripped, or "" when it is not text or nothing visible is left (spaces, zero-width
    spaces, direction marks only): a reason or a title of that kind is a missing one, and would
    print as "（）" on a notice."""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    return value if INVISIBLE_CHARS.sub("", value).strip() else ""


# what people type or paste between a phone number's digits: spaces (a full-width one too),
# hyphens and dashes, dots, brackets; and the country code in front
PHONE_NOISE = re.compile(r"[\s\u3000\-\u2010-\u2015\u2212.()（）]")
COUNTRY_CODE = re.compile(r"^(?:\+86|0086|86)(?=1\d{10}$)")


def phone_number(value) -> str:
    """A phone number as stored: "138 0000 0003", "138-0000-0003" and "+86 13800000003" are
    13800000003 (a number pasted from WeChat or a contact card), wherever one is typed: login,
    the member form, a roster. Anything else is only stripped of that noise."""
    if value is None:
        return ""
    text = PHONE_NOISE.sub("", INVISIBLE_CHARS.sub("", str(value)))
    return COUNTRY_CODE.sub("", text)
