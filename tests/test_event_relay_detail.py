"""The hub reads nothing of an Event Relay event's `detail` but `payload`.

Salesforce documents the change event under `detail.payload` (rules match `detail.payload.ChangeEventHeader...`);
the other keys of `detail` (the emulator sends `schemaId` and `id`) are not confirmed for real orgs
(research/salesforce-facts.md, section b). Code that read them would pass against the emulator and fail in production.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from tools.template_info import REPO, template

HUB_CODE = [REPO / "functions", REPO / "layers"]


def _detail_keys_read(source: str) -> list[str]:
    """Keys read one level under a `["detail"]` / `.get("detail")`: `event["detail"]["schemaId"]` gives schemaId."""

    def is_detail(node: ast.AST) -> bool:
        if isinstance(node, ast.Subscript):
            return isinstance(node.slice, ast.Constant) and node.slice.value == "detail"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "detail"
        return False

    keys = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and is_detail(node.value) and isinstance(node.slice, ast.Constant):
            keys.append(str(node.slice.value))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and is_detail(node.func.value)
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            keys.append(str(node.args[0].value))
    return keys


def _pattern_detail_keys(node: Any) -> list[str]:
    """Keys under `detail` in the template's EventBridge event patterns."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "detail" and isinstance(value, dict):
                found += list(value)
            found += _pattern_detail_keys(value)
    elif isinstance(node, list):
        for item in node:
            found += _pattern_detail_keys(item)
    return found


def test_the_checks_see_a_read_of_another_detail_key() -> None:
    assert _detail_keys_read('x = event["detail"]["schemaId"]\ny = event.get("detail").get("id")') == ["schemaId", "id"]
    assert _pattern_detail_keys({"EventPattern": {"detail": {"payload": {}, "id": ["x"]}}}) == ["payload", "id"]


def test_hub_code_reads_only_payload_under_detail() -> None:
    for root in HUB_CODE:
        for path in sorted(Path(root).rglob("*.py")):
            text = path.read_text()
            assert set(_detail_keys_read(text)) <= {"payload"}, path
            assert "schemaId" not in text, path


def test_event_patterns_match_only_payload_under_detail() -> None:
    assert set(_pattern_detail_keys(template())) <= {"payload"}
