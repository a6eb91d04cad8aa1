"""The generated tables of docs/sync.md, from the code (python -m tools.sync_docs --write).

docs/sync.md holds blocks between `<!-- generated:NAME -->` and `<!-- end generated:NAME -->`; this module
renders each from the transition table, the transforms and the default mappings, and a test checks the
file holds exactly what it renders, so the administrator's documentation cannot drift from the engine.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.defaults import DEFAULT_MAPPINGS
from sync_core.domain.sync.mapping import ChildMapping, FieldMap, ReferenceMap
from sync_core.domain.sync.policy import SyncDirection
from sync_core.domain.sync.transforms import TRANSFORMS
from sync_core.domain.sync.transitions import TRANSITIONS, ErrorRule, OperationRule
from sync_core.domain.sync_config import EXPORT_ONLY_ENTITIES
from tools.template_info import REPO

SYNC_DOC = REPO / "docs" / "sync.md"
ARROWS = {SyncDirection.BOTH: "<->", SyncDirection.TO_SALESFORCE: "->", SyncDirection.FROM_SALESFORCE: "<-"}


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def transitions() -> str:
    rows = []
    for (actor, event), rule in TRANSITIONS.items():
        status = rule.status.value if rule.status else "unchanged"
        if rule.when_superseded:
            status += f" ({rule.when_superseded.value} if the record changed since the exported version)"
        operation = {
            OperationRule.FROM_WRITE: "the write's (Insert until first exported)",
            OperationRule.FROM_CHANGE: "the Salesforce change's",
            OperationRule.KEEP: "unchanged",
        }[rule.operation]
        error = {ErrorRule.CLEAR: "cleared", ErrorRule.SET: "the message", ErrorRule.KEEP: "unchanged"}[rule.error]
        if rule.status is not None and rule.status.value == "Skipped":
            error = "cleared; Skip reason: the policy's reason"
        queues = "yes" if rule.queues_export else ("if superseded" if rule.when_superseded else "no")
        extra = [
            text
            for flag, text in (
                (rule.links, "sets the Salesforce link"),
                (rule.marks_synced, "records what was synced (hash, version, stamp)"),
                (rule.records_attempt, "sets Latest Attempt"),
            )
            if flag
        ]
        rows.append([actor.value, event.value, status, operation, error, queues, "; ".join(extra)])
    header = ["Actor", "Event", "Status becomes", "Operation", "Error", "Queues an export", "Also"]
    return _table(header, rows)


def transforms() -> str:
    return _table(
        ["Transform", "What it does", "Example"],
        [[f"`{t.name}`", t.description, t.example] for t in TRANSFORMS.values()],
    )


def _how(item: FieldMap | ReferenceMap) -> str:
    notes: list[str] = []
    if isinstance(item, ReferenceMap):
        notes.append(f"reference to {item.parent}" + ("" if item.key_format == "{value}" else f" `{item.key_format}`"))
    else:
        if item.transform:
            notes.append(f"`{item.transform}`")
        if item.value_map:
            notes.append("value map")
    if item.create_only:
        notes.append("on create only")
    return ", ".join(notes)


def _rows(
    field_maps: list[FieldMap], references: list[ReferenceMap], within: SyncDirection = SyncDirection.BOTH
) -> list[list[str]]:
    """One row per mapping; `within` is the direction of the child rows they belong to, which caps theirs."""

    def arrow(direction: SyncDirection) -> str:
        return ARROWS[within if direction is SyncDirection.BOTH else direction]

    rows = [[f"`{m.hub_field}`", arrow(m.direction), ", ".join(m.targets), _how(m)] for m in field_maps]
    rows += [[f"`{r.hub_field}`", arrow(r.direction), r.salesforce_field, _how(r)] for r in references]
    return rows


def _child(child: ChildMapping) -> str:
    where = ", ".join(f"{name} = {value}" for name, value in child.only_where.items())
    title = (
        f"`{child.hub_field}` -> {child.salesforce_object} (lookup {child.parent_field}, external id "
        f"`{child.external_id_format}`" + (f", only where {where}" if where else "") + ")"
    )
    rows = _rows(child.field_mapping, child.references, child.direction)
    return title + "\n\n" + _table(["Hub field", "", "Salesforce", "How"], rows)


def default_mappings() -> str:
    parts = []
    for entity in EntityName:
        mapping = DEFAULT_MAPPINGS[entity]
        stopped = " (export only, Stopped by default)" if entity in EXPORT_ONLY_ENTITIES else ""
        parts.append(
            f"#### {entity.value} -> {mapping.salesforce_object}{stopped}\n\n"
            f"External id field: `{mapping.external_id_field}`.\n\n"
            + _table(["Hub field", "", "Salesforce", "How"], _rows(mapping.field_mapping, mapping.references))
        )
        parts += [f"Child rows: {_child(child)}" for child in mapping.children]
    return "\n\n".join(parts)


BLOCKS: dict[str, Callable[[], str]] = {
    "transitions": transitions,
    "transforms": transforms,
    "default-mappings": default_mappings,
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated:{name} -->)(.*?)(<!-- end generated:{name} -->)", re.DOTALL)


def current_blocks(text: str) -> dict[str, str | None]:
    """The text of each generated block as the document holds it (None when the markers are missing)."""
    found: dict[str, str | None] = {}
    for name in BLOCKS:
        match = _pattern(name).search(text)
        found[name] = match.group(2).strip("\n") if match else None
    return found


def rewrite(text: str) -> str:
    for name, render in BLOCKS.items():
        body = render()

        def replace(match: re.Match[str], body: str = body) -> str:
            return f"{match.group(1)}\n{body}\n{match.group(3)}"

        text = _pattern(name).sub(replace, text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"rewrite {SYNC_DOC.relative_to(REPO)}'s blocks")
    args = parser.parse_args()
    if args.write:
        SYNC_DOC.write_text(rewrite(SYNC_DOC.read_text()))
    else:
        for name, render in BLOCKS.items():
            sys.stdout.write(f"<!-- generated:{name} -->\n{render()}\n<!-- end generated:{name} -->\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
