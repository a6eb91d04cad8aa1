"""The HTTP edge every API function shares (API Gateway HTTP API, payload 2.0).

- resolver: HubResolver, a Powertools resolver whose every answer is in the hub's error shape (404, 405 with
  Allow, 415, 400/422, 503 with Retry-After, 500 with a correlation id) and whose refusals are logged once;
  api_handler, the Lambda entry point that checks the function's settings first.
- errors: the error shape (ErrorBody) and the table from the hub's errors to HTTP statuses.
- body: JSON bodies parsed with DynamoDB's limits (objects only, finite numbers in range, bounded nesting).
- identity: the caller (id and roles) the authoriser vouched for.
- preconditions: ETag and If-Match (optimistic locking).
- params: the shared query and header parameters (page size, cursor, Idempotency-Key, If-Match).
- openapi: the documented answers of a route (its success and the error shape on every status it can refuse).
- writes: a write run once per Idempotency-Key, again when it lost a race that left nothing written.
"""
