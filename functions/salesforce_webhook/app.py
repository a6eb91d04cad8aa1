"""salesforce_webhook: `POST /salesforce/outbound/{token}`, Salesforce's outbound messages (SOAP).

The one route without the API's authoriser (Salesforce cannot sign a request): the service checks the path
token and the org id. Thin: the body (decoded if API Gateway base64-encoded it) goes to the service, whose
SOAP answer goes back: 200 with the Ack once every change is queued; 400 with a fault for what cannot be
read (a DTD or an entity, malformed XML, an object the hub does not sync); 403 for a wrong token or org;
413 above the size limit; 503 when queueing failed (Salesforce delivers the message again).
"""

from __future__ import annotations

import base64
import binascii
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sync_core.adapters.realtime_factory import WEBHOOK_SETTINGS, build_webhook_service
from sync_core.config import require_settings
from sync_core.domain.sync.outbound import MAX_BODY_BYTES, fault_response
from sync_core.errors import RetryableError
from sync_core.observability import logger, tracer
from sync_core.services.outbound import OutboundMessageService, WebhookAnswer

REQUIRED_SETTINGS = WEBHOOK_SETTINGS
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"


@cache
def _service() -> OutboundMessageService:
    return build_webhook_service(require_settings(REQUIRED_SETTINGS))


def _answer(answer: WebhookAnswer) -> dict[str, Any]:
    return {"statusCode": answer.status, "headers": {"content-type": SOAP_CONTENT_TYPE}, "body": answer.body}


def _body(event: dict[str, Any]) -> bytes | None:
    """The request body as bytes; None when it is larger than the limit (checked before decoding)."""
    raw = event.get("body") or ""
    if len(raw) > (MAX_BODY_BYTES * 4 // 3 + 4 if event.get("isBase64Encoded") else MAX_BODY_BYTES):
        return None
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=True)
        except binascii.Error:
            return b""  # not base64: an unreadable message
    return raw.encode("utf-8")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    token = str((event.get("pathParameters") or {}).get("token") or "")
    body = _body(event)
    if body is None or len(body) > MAX_BODY_BYTES:
        logger.warning("outbound message refused: too large", extra={"limit": MAX_BODY_BYTES})
        return _answer(WebhookAnswer(413, fault_response(f"the message is larger than {MAX_BODY_BYTES} bytes")))
    try:
        answer = _service().receive(token, body)
    except RetryableError as exc:  # the token's secret could not be read: Salesforce tries again later
        logger.error("outbound message not acknowledged", extra={"error": exc.message})
        return _answer(WebhookAnswer(503, fault_response("the hub cannot take messages now", sender=False)))
    extra = {"status": answer.status, "queued": answer.queued, "action_id": answer.action_id}
    if answer.status == 200:
        logger.info("outbound message acknowledged", extra=extra)
    else:
        logger.warning("outbound message not acknowledged", extra={**extra, "reason": answer.reason})
    return _answer(answer)
