"""The sync engine's pure domain: plain Python and pydantic, no AWS, HTTP or Salesforce client.

Find a piece by its module's name:
    policy       directions, modes, conflict and delete policies, the unmapped-value policy
    hub_schema   what fields each hub entity has (paths, kinds, lengths, enum values)
    transforms   named value transforms (split_name, date, datetime, decimal, number, upper, lower, trim, truncate)
    mapping      the mapping model (fields, value maps, references, child rows) and its validation
    defaults     the default mapping of every hub entity
    describe     a mapping checked against Salesforce's describe of its objects
    translate    to_salesforce / from_salesforce through a mapping and the links
    transitions  the sync-status transition table (actor x event -> new SyncState)
    changes      the change model both ways, and the FIFO message group / deduplication ids
    merge        stamp-based import merge (field by field), deletes and undeletes by policy
    conflicts    changed on both sides since the last sync: detection and resolution by policy
    echo         a Salesforce change that only repeats what the hub last wrote
    config       an entity's sync configuration checked when saved (every mistake with its path)
"""
