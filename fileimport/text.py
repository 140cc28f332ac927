"""Text from files made safe to store and to write back out: no C0 control characters; numbers read from text.

XML 1.0 allows no C0 control character but tab, line feed and carriage return, PostgreSQL stores no NUL, and
one such character in a stored field made every QuakeML answer that included it fail mid-stream. Importers
pass every text field through `text_without_controls`; the bulletin writers do too, for rows stored before.
"""

import re

# C0 controls except tab (\x09), line feed (\x0a) and carriage return (\x0d); and the two non-characters
# XML 1.0 refuses as well.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def text_without_controls(text: str) -> str:
    """`text` with each C0 control character (except tab, CR, LF) replaced by a space."""
    return _CONTROLS.sub(" ", text)


def text_has_controls(text: str) -> bool:
    return _CONTROLS.search(text) is not None


def text_float(text: str | None) -> float | None:
    """The number ``text`` holds, or None for empty or unreadable text (an optional numeric field)."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None
