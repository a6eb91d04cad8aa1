"""docs/sync.md holds exactly the tables the code generates: statuses, transforms, default mappings."""

from __future__ import annotations

import pytest

from sync_core.domain.sync.transitions import TRANSITIONS
from tools.sync_docs import BLOCKS, SYNC_DOC, current_blocks


@pytest.mark.parametrize("name", list(BLOCKS))
def test_the_generated_block_matches_the_code(name: str) -> None:
    assert current_blocks(SYNC_DOC.read_text())[name] == BLOCKS[name](), (
        "run `PYTHONPATH=layers/sync_core:. .venv/bin/python -m tools.sync_docs --write`"
    )


def test_the_transition_table_has_a_row_per_actor_and_event() -> None:
    rows = BLOCKS["transitions"]().splitlines()[2:]
    assert [tuple(row.split(" | ")[:2]) for row in rows] == [
        (f"| {actor.value}", event.value) for actor, event in TRANSITIONS
    ]
