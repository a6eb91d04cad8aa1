"""DynamoDB adapters: records, sync state, sequences (and later config and the error log)."""
