"""The local API gateway: every route template.yaml declares, served like API Gateway HTTP APIs serve them.

Each request becomes a payload format 2.0 event, the route's function is invoked in-process, and its
answer is turned back into HTTP. Like `sam local start-api`, the cloud authorisers are not enforced:
the X-Hub-User header names the caller and reaches the function as a JWT authoriser's `sub` claim, and
X-Hub-Roles (comma- or space-separated) its groups claim, flattened to "[a b]" as API Gateway hands JWT
arrays over. A request with neither header is the stack's default user with its default roles.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local.runtime import LocalFunction
from tools.template_info import ApiRoute

log = logging.getLogger("local.gateway")

USER_HEADER = "X-Hub-User"
ROLES_HEADER = "X-Hub-Roles"
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/soap+xml", "application/x-www-form")
ControlHandler = Callable[[Request, list[str]], Response]


@dataclass(frozen=True)
class CompiledRoute:
    route: ApiRoute
    pattern: re.Pattern[str]
    parameters: tuple[str, ...]
    greedy: bool
    literal_segments: int

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.route.method not in ("ANY", method):
            return None
        found = self.pattern.fullmatch(path)
        return None if found is None else {name: found.group(index + 1) for index, name in enumerate(self.parameters)}


def compile_route(route: ApiRoute) -> CompiledRoute:
    """{name} matches one path segment, {name+} the rest of the path (API Gateway's greedy variable);
    the $default route matches any path, after every other route."""
    if route.path == "$default":
        return CompiledRoute(route, re.compile(r"/.*", re.DOTALL), (), greedy=True, literal_segments=-1)
    parts, parameters, greedy, literal = [], [], False, 0
    for segment in route.path.strip("/").split("/"):
        variable = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
        if variable:
            parameters.append(variable.group(1))
            greedy = greedy or bool(variable.group(2))
            parts.append("(.+)" if variable.group(2) else "([^/]+)")
        else:
            literal += 1
            parts.append(re.escape(segment))
    # DOTALL: a path variable holds any decoded character, a newline (%0A) included, as in API Gateway.
    return CompiledRoute(route, re.compile("/" + "/".join(parts), re.DOTALL), tuple(parameters), greedy, literal)


class RouteTable:
    """Routes in API Gateway's order of precedence: exact method before ANY, literals before variables."""

    def __init__(self, routes: list[ApiRoute]) -> None:
        compiled = [compile_route(route) for route in routes]
        self._routes = sorted(
            compiled,
            key=lambda item: (item.greedy, -item.literal_segments, -len(item.parameters), item.route.method == "ANY"),
        )

    def find(self, method: str, path: str) -> tuple[CompiledRoute, dict[str, str]] | None:
        for compiled in self._routes:
            parameters = compiled.match(method, path)
            if parameters is not None:
                return compiled, parameters
        return None


def build_http_event(
    request: Request, route: ApiRoute, path_parameters: dict[str, str], user: str | None, roles: str | None = None
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event for this request."""
    now = time.time()
    raw = request.get_data()
    content_type = request.headers.get("content-type", "")
    is_text = not raw or content_type.startswith(TEXT_TYPES)
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers and key != "cookie" else value
    cookies = [part.strip() for part in headers.pop("cookie", "").split(";") if part.strip()]
    query = {key: ",".join(request.args.getlist(key)) for key in request.args}
    request_id = base64.urlsafe_b64encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")
    route_key = "$default" if route.path == "$default" else f"{route.method} {route.path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode("latin-1"),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if raw:
        event["body"] = raw.decode("utf-8") if is_text else base64.b64encode(raw).decode()
    if user:
        claims = {"sub": user}
        groups = [part for part in (roles or "").replace(",", " ").split() if part]
        if groups:
            claims["cognito:groups"] = "[" + " ".join(groups) + "]"
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


def http_response(result: Any) -> Response:
    """Turn a handler's answer into HTTP as payload format 2.0 does (a bare value means 200 JSON)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return Response(json.dumps(result), status=200, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    response = Response(data, status=int(result["statusCode"]))
    response.headers.remove("content-type")
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("set-cookie", cookie)
    return response


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


class LocalGateway:
    """A WSGI app: template routes first, then the local stack's own /__local/ controls."""

    def __init__(
        self,
        routes: list[ApiRoute],
        functions: dict[str, LocalFunction],
        *,
        default_user: str | None = None,
        default_roles: str | None = None,
        controls: dict[str, ControlHandler] | None = None,
        fallbacks: dict[str, ControlHandler] | None = None,
    ) -> None:
        self.routes = RouteTable(routes)
        self.functions = functions
        self.default_user = default_user
        self.default_roles = default_roles
        self.controls = controls or {}
        self.fallbacks = fallbacks or {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:  # never the web server's HTML page: API Gateway answers JSON
            log.exception("gateway failed on %s %s", request.method, request.path)
            response = _json({"message": "Internal Server Error"}, 500)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.path.startswith("/__local/"):
            name, *rest = request.path.removeprefix("/__local/").split("/")
            control = self.controls.get(name)
            return control(request, rest) if control else _json({"message": "Not Found"}, 404)
        found = self.routes.find(request.method, request.path)
        if found is None:
            fallback = self.fallbacks.get(request.path)
            if fallback is not None:
                return fallback(request, [])
            return _json({"message": "Not Found"}, 404)  # what API Gateway answers for no route
        compiled, parameters = found
        named_user = request.headers.get(USER_HEADER)
        user = named_user or self.default_user
        roles = request.headers.get(ROLES_HEADER)
        if roles is None and not named_user:
            roles = self.default_roles
        try:
            event = build_http_event(request, compiled.route, parameters, user, roles)
        except UnicodeDecodeError as exc:
            # A text body travels in the event as a string: one that is not UTF-8 cannot be handed on.
            message = f"request body is not valid UTF-8 (byte {exc.start})"
            return _json({"message": message, "status": 400}, 400)
        function = self.functions[compiled.route.function]
        try:
            result = function.invoke(event)
        except Exception:
            log.exception("%s failed on %s %s", function.name, request.method, request.path)
            return _json({"message": "Internal Server Error"}, 500)
        return http_response(result)


class GatewayRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, but a request refused before it reaches the app (a request line or headers too long
    to read, a malformed request line) is answered in the hub's JSON error shape, not an HTML page."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        body = json.dumps({"message": message or HTTPStatus(code).phrase, "status": code}).encode()
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= HTTPStatus.OK and code not in (HTTPStatus.NO_CONTENT, 304):
            self.wfile.write(body)


class ServerThread:
    """A WSGI app served on 127.0.0.1 from a daemon thread; port 0 picks a free port.

    Werkzeug's servers bind with SO_REUSEADDR (socketserver's allow_reuse_address), so connections left in
    TIME_WAIT by the previous run never keep `make run` from starting again on the same port.
    """

    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        ssl_context: Any = None,
        request_handler: type[WSGIRequestHandler] | None = None,
        name: str = "server",
    ) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, ssl_context=ssl_context, request_handler=request_handler
        )
        assert self._server.allow_reuse_address, "a restart must not wait for TIME_WAIT to pass"
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
