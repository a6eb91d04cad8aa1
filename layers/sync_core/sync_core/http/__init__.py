"""API Gateway glue shared by the API functions: errors to responses, caller identity, preconditions."""
