"""Case management use cases, one service a concern, sharing how case records are read and written.

- cases: create, read, list and PATCH a case
- workflow: the form's commands (transitions) and what a release created
- activities: log an activity, list them page by page
- related: the Related Cases tab
- settings: case classes, workgroups, contracts (one generic service) and the assignment map
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_core.ports.cases import CaseActivityStore, CaseSettingsStore
from sync_core.ports.stores import Clock, RecordFinder, RecordStore, SequenceStore
from sync_core.services.cases.activities import CaseActivitiesService
from sync_core.services.cases.cases import CaseService
from sync_core.services.cases.records import CaseRecords
from sync_core.services.cases.references import CaseReferenceLoader
from sync_core.services.cases.related import RelatedCasesService
from sync_core.services.cases.settings import CaseSettingsService
from sync_core.services.cases.workflow import CaseWorkflowService
from sync_core.services.sync_writer import SyncWriter


@dataclass(frozen=True)
class CaseServices:
    cases: CaseService
    workflow: CaseWorkflowService
    activities: CaseActivitiesService
    related: RelatedCasesService
    settings: CaseSettingsService


def case_services(
    *,
    records: RecordStore,
    finder: RecordFinder,
    writer: SyncWriter,
    settings: CaseSettingsStore,
    activities: CaseActivityStore,
    sequences: SequenceStore,
    clock: Clock,
) -> CaseServices:
    """Every case service on the same ports."""
    shared = CaseRecords(records=records, writer=writer, activities=activities, clock=clock)
    references = CaseReferenceLoader(records=records, finder=finder, settings=settings)
    return CaseServices(
        cases=CaseService(cases=shared, references=references, finder=finder, sequences=sequences),
        workflow=CaseWorkflowService(cases=shared, references=references, settings=settings, sequences=sequences),
        activities=CaseActivitiesService(cases=shared, references=references),
        related=RelatedCasesService(cases=shared),
        settings=CaseSettingsService(settings=settings, records=records),
    )
