"""First loads (Process All), the pure part: which hub record is which Salesforce record before anything is
created, so a first run over two populated systems links them and creates no duplicates.

Matching, in order, among records not linked yet:
1. the external id: a Salesforce row whose external id field (`Hub_Id__c`) names the hub record;
2. the entity's matching fields (`matching_fields` in its sync configuration; by default email for contacts and
   leads, name and billing city for accounts, product code for products), compared trimmed and case-blind; a
   record with an empty matching field matches nothing.
One hub record and one Salesforce row with the same key are linked. Several on either side are not guessed:
every hub record of the group is flagged ambiguous, naming the Salesforce candidates, and none of them is
created anywhere. Whatever matches nothing is created on the other side, where the configuration allows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.hub_schema import get_path
from sync_core.domain.sync.mapping import EntityMapping, MappingProblem

DEFAULT_MATCHING_FIELDS: dict[EntityName, tuple[str, ...]] = {
    EntityName.ACCOUNT: ("name", "billing_address.city"),
    EntityName.CONTACT: ("email",),
    EntityName.LEAD: ("email",),
    EntityName.PRODUCT: ("product_code",),
}


class Planned(StrEnum):
    LINK = "link"  # the same record on both sides: linked, then synced by the entity's conflict policy
    CREATE_IN_SALESFORCE = "create in Salesforce"
    CREATE_IN_HUB = "create in hub"
    UPDATE = "update"  # linked already, the hub's side not synced yet: exported
    LEAVE = "leave"  # linked and in sync, or a side the configuration does not create on
    AMBIGUOUS = "ambiguous"  # several candidates: not guessed, flagged in the error log


@dataclass(frozen=True)
class HubSide:
    record_id: str
    fields: Mapping[str, Any]
    version: int
    linked_to: str | None = None  # the Salesforce id it is linked to
    in_sync: bool = False  # Synchronized (or Skipped): nothing to send


@dataclass(frozen=True)
class SalesforceSide:
    salesforce_id: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Step:
    action: Planned
    hub_id: str | None = None
    salesforce_id: str | None = None
    matched_by: str | None = None  # "external id", "email", "name, billing_address.city", "link"
    candidates: tuple[str, ...] = ()  # ambiguous: the Salesforce candidates
    others: tuple[str, ...] = ()  # ambiguous: other hub records with the same key

    def message(self, entity: EntityName) -> str:
        text = (
            f"{entity.value} {self.hub_id} matches {len(self.candidates)} Salesforce record(s) by {self.matched_by}: "
            f"{', '.join(self.candidates)}"
        )
        if self.others:
            text += f"; so do hub records {', '.join(self.others)}"
        return text + ". Not linked and not created on either side: link it by hand or make the records differ."

    def sample(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"hub_id": self.hub_id, "salesforce_id": self.salesforce_id}
        if self.matched_by:
            shown["matched_by"] = self.matched_by
        if self.candidates:
            shown["candidates"] = list(self.candidates)
        if self.others:
            shown["other_hub_records"] = list(self.others)
        return shown


def matching_fields(entity: EntityName, configured: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(configured) if configured is not None else DEFAULT_MATCHING_FIELDS.get(entity, ())


def matching_targets(mapping: EntityMapping, fields: Sequence[str]) -> list[tuple[str, str]]:
    """Each matching hub field with the one Salesforce field it maps to (check_matching_fields says why not)."""
    targets: list[tuple[str, str]] = []
    for hub_field in fields:
        found = next(
            (item for item in mapping.field_mapping if item.hub_field == hub_field and len(item.targets) == 1), None
        )
        if found is not None:
            targets.append((hub_field, found.targets[0]))
    return targets


def check_matching_fields(mapping: EntityMapping, fields: Sequence[str] | None) -> list[MappingProblem]:
    problems: list[MappingProblem] = []
    for index, hub_field in enumerate(fields or ()):
        if not matching_targets(mapping, [hub_field]):
            problems.append(
                MappingProblem(
                    f"matching_fields[{index}]",
                    f"{hub_field} is not mapped to one Salesforce field, so it cannot be compared with Salesforce's",
                )
            )
    if fields is not None and len(set(fields)) != len(fields):
        problems.append(MappingProblem("matching_fields", "a field is listed twice"))
    return problems


def _key(values: Sequence[Any]) -> tuple[str, ...] | None:
    parts: list[str] = []
    for value in values:
        text = "" if value is None else str(value).strip().casefold()
        if not text:
            return None
        parts.append(text)
    return tuple(parts) if parts else None


@dataclass
class _Groups:
    hub: dict[tuple[str, ...], list[HubSide]] = field(default_factory=lambda: defaultdict(list))
    salesforce: dict[tuple[str, ...], list[SalesforceSide]] = field(default_factory=lambda: defaultdict(list))


def plan_first_load(
    hub: Sequence[HubSide],
    salesforce: Sequence[SalesforceSide],
    *,
    external_id_field: str,
    matching: Sequence[tuple[str, str]],
    creates_in_salesforce: bool,
    creates_in_hub: bool,
) -> list[Step]:
    """What a first load does with every record of one entity on either side (see the module's docstring)."""
    steps: list[Step] = []
    linked_ids = {record.linked_to for record in hub if record.linked_to}
    unlinked: list[HubSide] = []
    for record in hub:
        if record.linked_to is None:
            unlinked.append(record)
        else:
            action = Planned.LEAVE if record.in_sync else Planned.UPDATE
            steps.append(Step(action, record.record_id, record.linked_to, "link"))
    free = [row for row in salesforce if row.salesforce_id not in linked_ids]
    taken: set[str] = set()

    by_external_id: dict[str, list[SalesforceSide]] = defaultdict(list)
    for row in free:
        if value := row.values.get(external_id_field):
            by_external_id[str(value)].append(row)
    rest: list[HubSide] = []
    for record in unlinked:
        rows = by_external_id.get(record.record_id, [])
        taken.update(row.salesforce_id for row in rows)
        if len(rows) == 1:
            steps.append(Step(Planned.LINK, record.record_id, rows[0].salesforce_id, "external id"))
        elif rows:
            ids = tuple(row.salesforce_id for row in rows)
            steps.append(Step(Planned.AMBIGUOUS, record.record_id, None, "external id", ids))
        else:
            rest.append(record)

    unmatched: list[HubSide] = []
    if matching:
        described = ", ".join(hub_field for hub_field, _ in matching)
        groups = _Groups()
        for record in rest:
            key = _key([get_path(dict(record.fields), hub_field) for hub_field, _ in matching])
            if key is None:
                unmatched.append(record)
            else:
                groups.hub[key].append(record)
        for row in free:
            if row.salesforce_id in taken:
                continue
            key = _key([row.values.get(salesforce_field) for _, salesforce_field in matching])
            if key is not None:
                groups.salesforce[key].append(row)
        for key, records in groups.hub.items():
            rows = groups.salesforce.get(key, [])
            if not rows:
                unmatched.extend(records)
                continue
            taken.update(row.salesforce_id for row in rows)
            if len(records) == 1 and len(rows) == 1:
                steps.append(Step(Planned.LINK, records[0].record_id, rows[0].salesforce_id, described))
                continue
            ids = tuple(row.salesforce_id for row in rows)
            for record in records:
                others = tuple(other.record_id for other in records if other is not record)
                steps.append(Step(Planned.AMBIGUOUS, record.record_id, None, described, ids, others))
    else:
        unmatched = rest

    for record in unmatched:
        action = Planned.CREATE_IN_SALESFORCE if creates_in_salesforce else Planned.LEAVE
        steps.append(Step(action, record.record_id, None))
    for row in free:
        if row.salesforce_id not in taken:
            action = Planned.CREATE_IN_HUB if creates_in_hub else Planned.LEAVE
            steps.append(Step(action, None, row.salesforce_id))
    return steps
