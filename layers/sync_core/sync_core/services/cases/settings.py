"""Case settings: one generic service for every keyed kind (classes, workgroups, contracts), and the
assignment map."""

from __future__ import annotations

from pydantic import BaseModel

from sync_core.domain.cases.editing import check_owner
from sync_core.domain.cases.settings import WORKGROUPS, AssignmentRules, Contract, SettingKind
from sync_core.domain.entities import EntityName
from sync_core.errors import NotFoundError, ValidationFailedError
from sync_core.ports.cases import CaseSettingsStore
from sync_core.ports.stores import RecordStore


class CaseSettingsService:
    def __init__(self, *, settings: CaseSettingsStore, records: RecordStore) -> None:
        self._settings = settings
        self._records = records

    def get[M: BaseModel](self, kind: SettingKind[M], setting_id: str) -> M:
        value = self._settings.get(kind, setting_id)
        if value is None:
            raise NotFoundError(f"{kind.label} {setting_id} does not exist")
        return value

    def list_all[M: BaseModel](self, kind: SettingKind[M]) -> list[M]:
        return self._settings.list_all(kind)

    def put[M: BaseModel](self, kind: SettingKind[M], value: M) -> M:
        """Create or replace; a contract must name a business account that exists."""
        if isinstance(value, Contract) and self._records.get(EntityName.ACCOUNT, value.account_id) is None:
            raise ValidationFailedError(f"account {value.account_id} does not exist", field="account_id")
        self._settings.put(kind, value)
        return value

    def get_assignment_rules(self) -> AssignmentRules:
        return AssignmentRules(rules=self._settings.assignment_rules())

    def put_assignment_rules(self, rules: AssignmentRules) -> AssignmentRules:
        """The assignment map; every rule must name a workgroup that exists, and an owner among its members.

        The workgroups are read once (one paged query), so checking a map costs the same few reads however
        many rules it has; its length is bounded by the model (MAX_ASSIGNMENT_RULES, 422 beyond).
        """
        workgroups = {group.workgroup_id: group for group in self._settings.list_all(WORKGROUPS)} if rules.rules else {}
        for index, rule in enumerate(rules.rules):
            workgroup = workgroups.get(rule.workgroup_id)
            if workgroup is None:
                raise ValidationFailedError(
                    f"workgroup {rule.workgroup_id} does not exist", field=f"rules.{index}.workgroup_id"
                )
            try:
                check_owner(rule.owner, workgroup)
            except ValidationFailedError as exc:
                raise ValidationFailedError(exc.message, field=f"rules.{index}.owner") from exc
        self._settings.replace_assignment_rules(rules.rules)
        return rules
