"""SQS adapters: the queues the sync engine's functions write to."""
