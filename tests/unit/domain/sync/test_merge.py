"""Stamp-based import merge: newest per field wins, duplicates change nothing, deletes follow the policy.

The property test replays random sets of changes in random orders, with duplicates, and checks that every
order ends in the same hub values: the latest value of every field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeOperation, ChangeSource
from sync_core.domain.sync.merge import DELETED_STAMP, MergeAction, is_deleted, merge_inbound
from sync_core.domain.sync.policy import DeletePolicy

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
FIELDS = ("FirstName", "LastName", "Email", "Phone")


def change(seconds: int, operation: ChangeOperation = ChangeOperation.UPSERT, **values: Any) -> Change:
    cleared = [name for name, value in values.items() if value is None]
    return Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=EntityName.CONTACT,
        salesforce_id="003000000000001AAA",
        operation=operation,
        source=ChangeSource.CHANGE_EVENT,
        change_id=f"t{seconds}",
        stamp=T0 + timedelta(seconds=seconds),
        values={name: value for name, value in values.items() if value is not None},
        cleared_fields=cleared,
    )


def test_only_newer_fields_apply() -> None:
    first = merge_inbound(change(2, LastName="B", Email="b@x.io"), {}, delete_policy=DeletePolicy.UNLINK)
    assert (first.action, first.values) == (MergeAction.APPLY, {"LastName": "B", "Email": "b@x.io"})
    older = merge_inbound(change(1, LastName="A", Phone="1"), first.field_stamps, delete_policy=DeletePolicy.UNLINK)
    assert (older.action, older.values, older.stale_fields) == (MergeAction.APPLY, {"Phone": "1"}, ["LastName"])
    cleared = merge_inbound(change(3, Email=None), older.field_stamps, delete_policy=DeletePolicy.UNLINK)
    assert cleared.values == {"Email": None}


def test_a_duplicate_is_a_no_op() -> None:
    first = merge_inbound(change(2, LastName="B"), {}, delete_policy=DeletePolicy.UNLINK)
    again = merge_inbound(change(2, LastName="B"), first.field_stamps, delete_policy=DeletePolicy.UNLINK)
    assert (again.action, again.values, again.duplicate) == (MergeAction.NOTHING, {}, True)
    assert again.field_stamps == first.field_stamps


@pytest.mark.parametrize(
    ("policy", "action"),
    [
        (DeletePolicy.DELETE_IN_HUB, MergeAction.DELETE_IN_HUB),
        (DeletePolicy.UNLINK, MergeAction.UNLINK),
        (DeletePolicy.IGNORE, MergeAction.NOTHING),
    ],
)
def test_deletes_follow_the_entitys_policy(policy: DeletePolicy, action: MergeAction) -> None:
    applied = merge_inbound(change(1, LastName="A"), {}, delete_policy=policy)
    deleted = merge_inbound(change(2, ChangeOperation.DELETE), applied.field_stamps, delete_policy=policy)
    assert deleted.action is action and is_deleted(deleted.field_stamps)
    # An edit made before the delete, delivered after it, does not bring the record back.
    late = merge_inbound(change(1, Email="late@x.io"), deleted.field_stamps, delete_policy=policy)
    assert late.action is MergeAction.NOTHING
    # The same delete again is a duplicate.
    again = merge_inbound(change(2, ChangeOperation.DELETE), deleted.field_stamps, delete_policy=policy)
    assert (again.action, again.duplicate) == (MergeAction.NOTHING, True)


def test_an_undelete_restores_and_applies_its_fields() -> None:
    deleted = merge_inbound(change(2, ChangeOperation.DELETE), {}, delete_policy=DeletePolicy.DELETE_IN_HUB)
    restored = merge_inbound(
        change(3, ChangeOperation.UNDELETE, LastName="A"),
        deleted.field_stamps,
        delete_policy=DeletePolicy.DELETE_IN_HUB,
    )
    assert (restored.action, restored.values) == (MergeAction.RESTORE, {"LastName": "A"})
    assert not is_deleted(restored.field_stamps)
    # The older delete delivered again changes nothing.
    stale = merge_inbound(
        change(2, ChangeOperation.DELETE), restored.field_stamps, delete_policy=DeletePolicy.DELETE_IN_HUB
    )
    assert stale.action is MergeAction.NOTHING and not is_deleted(stale.field_stamps)


def test_an_edit_newer_than_the_delete_means_an_undelete_not_seen_yet() -> None:
    deleted = merge_inbound(change(2, ChangeOperation.DELETE), {}, delete_policy=DeletePolicy.DELETE_IN_HUB)
    edit = merge_inbound(change(4, LastName="Z"), deleted.field_stamps, delete_policy=DeletePolicy.DELETE_IN_HUB)
    assert (edit.action, edit.values) == (MergeAction.RESTORE, {"LastName": "Z"})
    assert DELETED_STAMP not in edit.field_stamps


def test_exports_do_not_merge_by_stamps() -> None:
    export = Change(
        direction=ChangeDirection.TO_SALESFORCE, entity=EntityName.CONTACT, hub_id="CON-1", record_version=1,
        source=ChangeSource.STREAM, change_id="CON-1@1", stamp=T0,
    )  # fmt: skip
    with pytest.raises(ValueError, match="only a change from Salesforce merges by stamps"):
        merge_inbound(export, {}, delete_policy=DeletePolicy.UNLINK)


# ---------------------------------------------------------------- property: order and duplicates do not matter

_edit = st.dictionaries(st.sampled_from(FIELDS), st.one_of(st.none(), st.text(max_size=3)), min_size=1)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Change], list[Change]]:
    """Changes with distinct stamps (as Salesforce makes them), and a delivery: shuffled, some twice."""
    edits = draw(st.lists(_edit, min_size=1, max_size=8))
    changes = [change(index + 1, **edit) for index, edit in enumerate(edits)]
    delivered = draw(st.permutations(changes + draw(st.lists(st.sampled_from(changes), max_size=4))))
    return changes, list(delivered)


def _apply(delivered: list[Change]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    stamps: dict[str, datetime] = {}
    for item in delivered:
        result = merge_inbound(item, stamps, delete_policy=DeletePolicy.UNLINK)
        values.update(result.values)
        stamps = result.field_stamps
    return values


@settings(max_examples=200, derandomize=True, deadline=None)
@given(deliveries())
def test_any_order_with_duplicates_converges_to_the_latest_value_of_every_field(
    case: tuple[list[Change], list[Change]],
) -> None:
    in_order, delivered = case
    assert _apply(delivered) == _apply(in_order)
    latest: dict[str, Any] = {}
    for item in in_order:
        latest.update({name: item.value_of(name) for name in item.changed_fields})
    assert _apply(delivered) == latest
