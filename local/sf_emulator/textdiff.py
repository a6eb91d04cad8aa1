"""Data differences for large text fields in UPDATE change events, as Salesforce sends them.

Change Data Capture Developer Guide, "Sending Data Differences for Fields of Updated Records" and "Data
Differences in Event Fields" (developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/
change_data_capture/cdc_data_diff.htm, …/cdc_data_diff_event_fields.htm): for text fields of at least
1,000 characters an UPDATE may carry only a unified diff of the value, computed per line, headed by
`--- \\n+++ <SHA-256 of the whole new value>\\n`, and the field is listed in the header's `diffFields`.
"""

from __future__ import annotations

import difflib
import hashlib
import re

MIN_DIFF_LENGTH = 1000  # "The length of the field value is less than 1,000 characters" → whole value
_LINE_BREAK = re.compile(r"\r?\n")


def split_lines(value: str) -> list[str]:
    """Lines without their line breaks (the guide: lines are split "by using the line breaks found in the value";
    the consumer joins them again with the value's own newline sequence, \\r\\n or \\n)."""
    return _LINE_BREAK.split(value)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _range(start: int, length: int) -> str:
    # An empty range names the line before it (GNU diff's convention); counts are always written, as in the
    # guide's example "@@ -2,1 +2,1 @@".
    return f"{start + 1 if length else start},{length}"


def unified_diff(old: str | None, new: str | None) -> str | None:
    """The diff Salesforce would send instead of `new`, or None when it sends the whole value.

    No diff when (the guide's list): the value is under 1,000 characters; old and new differ by more than 50%
    in length; more than 25% of the lines of old and new together changed; the diff is not shorter than the
    new value. Hunks carry no context lines (as in the guide's example).
    """
    if old is None or new is None or old == new or len(new) < MIN_DIFF_LENGTH:
        return None
    if abs(len(new) - len(old)) > 0.5 * len(old):
        return None
    old_lines, new_lines = split_lines(old), split_lines(new)
    hunks: list[str] = []
    changed_lines = 0
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        changed_lines += (i2 - i1) + (j2 - j1)
        hunks.append(f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@\n")
        hunks.extend(f"-{line}\n" for line in old_lines[i1:i2])
        hunks.extend(f"+{line}\n" for line in new_lines[j1:j2])
    if changed_lines > 0.25 * (len(old_lines) + len(new_lines)):
        return None
    diff = f"--- \n+++ {sha256_hex(new)}\n" + "".join(hunks)
    return diff if len(diff) < len(new) else None
