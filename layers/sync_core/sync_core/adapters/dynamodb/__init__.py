"""DynamoDB adapters: records, sync state, sequences, case settings, config, the error log and the Salesforce
API budget. None of them imports the Salesforce client (import-linter)."""
