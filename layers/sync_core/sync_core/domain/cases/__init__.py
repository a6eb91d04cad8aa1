"""The case domain: Acumatica's Cases form (CR306000) as data and pure rules, one concern a module.

- vocabulary: statuses, reasons, actions, levels, activity kinds, field types, id formats
- workflow: the form's tables (reasons of each status, where each command is available and leads)
- settings: case classes, workgroups, contracts, the assignment map, their bounds, and the generic SettingKind
- models: the case (with its bounded activity totals), create/update bodies, invoice, contract usage, records
- editing: new case and PATCH with the class, contact, owner, contract and attribute rules
- billing: the form's billing table, rounding and the case's billable time
- activities: logging an activity (stored as an item of its own) and the case's running totals
- related_cases: the Related Cases tab
- transitions: the commands (open, close, pending-customer, release, take, apply-assignment-rules)
- release: the invoice or contract usage a release creates
- salesforce_status_map: hub status and reason against an org's Case Status picklist, both ways
"""
