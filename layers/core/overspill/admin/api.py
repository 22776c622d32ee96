"""The admin API: one Powertools resolver, the routes of ``overspill.admin.routes``, sign-in and errors.

Every request goes through :func:`handle`: the route's role is looked up and the caller's Cognito access token
checked *before* Powertools validates the request, so that a caller without the right to an endpoint learns
nothing about its input (401/403, never a 422). Only ``GET /api/health`` is open.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, get_type_hints

import orjson
from aws_lambda_powertools.event_handler import CORSConfig, LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import PynamoDBConnectionError

from overspill.admin.audit import Actor
from overspill.admin.errors import AdminError, FieldProblem
from overspill.admin.identity import IdentityError, Principal, Role, require
from overspill.config import SettingsError
from overspill.observability import logger

if TYPE_CHECKING:
    from overspill.admin.services import AdminServices

API_TITLE = "Overspill admin API"
API_VERSION = "1.0.0"
ROLE_EXTENSION = "x-overspill-role"   # in the OpenAPI document: who may call each operation
OPEN = None                          # the role of an endpoint that needs no token


@dataclass(frozen=True, slots=True)
class RequestScope:
    services: AdminServices
    principal: Principal | None
    request_id: str | None


_scope: ContextVar[RequestScope] = ContextVar("admin_request_scope")


def scope() -> RequestScope:
    """The current request's services and signed-in principal (set by :func:`handle`)."""
    return _scope.get()


def principal() -> Principal:
    caller = scope().principal
    if caller is None:  # only open endpoints run without one, and they do not ask
        raise RuntimeError("no signed-in principal in this request")
    return caller


def actor() -> Actor:
    """The signed-in principal as the author of a change (for the audit log)."""
    return Actor(principal(), scope().request_id)


# --- routes and who may call them -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Access:
    method: str
    pattern: re.Pattern[str]
    role: Role | None
    query: frozenset[str]  # the query parameters the route takes; any other is refused (a typo'd filter)


_ACCESS: list[_Access] = []


def _path_pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", re.escape(path).replace(r"\<", "<")
                                   .replace(r"\>", ">")) + "/?$")


def _route(method: str, path: str) -> _Access | None:
    return next((a for a in _ACCESS if a.method == method and a.pattern.match(path)), None)


def role_for(method: str, path: str) -> tuple[bool, Role | None]:
    """(known route, required role) for a request; an unknown route needs a token like any other."""
    access = _route(method, path)
    return (True, access.role) if access is not None else (False, Role.FINANCE)


def unknown_query_parameters(method: str, path: str, names: Any) -> list[str]:
    """The query parameters a known route does not take. Ignored silently, a misspelt filter (``?tema=``) would
    answer for everyone as if it were the filtered answer."""
    access = _route(method, path)
    return [] if access is None else sorted(str(n) for n in names or () if n not in access.query)


def allowed_methods(path: str) -> list[str]:
    """The methods this path has routes for (for a 405's Allow header)."""
    return sorted({a.method for a in _ACCESS if a.pattern.match(path)})


def endpoint(router: Any, method: str, path: str, *, role: Role | None, **options: Any) -> Callable[[Any], Any]:
    """Register an admin route: ``router.<method>(path)`` plus who may call it, in the OpenAPI document too."""
    extensions = {ROLE_EXTENSION: role.value if role else "none"}
    register = getattr(router, method.lower())(path, openapi_extensions=extensions, **options)

    def decorate(handler: Callable[..., Any]) -> Any:
        _ACCESS.append(_Access(method.upper(), _path_pattern(path), role, _query_names(handler)))
        return register(handler)

    return decorate


def _query_names(handler: Callable[..., Any]) -> frozenset[str]:
    """The names of a handler's ``Annotated[…, Query(…)]`` parameters, as the URL spells them (an alias: ``from``)."""
    names = set()
    for parameter, hint in get_type_hints(handler, include_extras=True).items():
        for marker in getattr(hint, "__metadata__", ()):
            if isinstance(marker, Query):
                names.add(marker.alias or parameter)
    return frozenset(names)


# --- the resolver -----------------------------------------------------------------------------------------

def _serialize(body: Any) -> str:
    return orjson.dumps(body, default=str).decode()


def build_resolver(cors_origin: str | None) -> LambdaFunctionUrlResolver:
    from overspill.admin.routes import ROUTERS  # the route modules register their endpoints on import

    cors = CORSConfig(allow_origin=cors_origin, allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
                      max_age=600) if cors_origin else None
    resolver = LambdaFunctionUrlResolver(enable_validation=True, cors=cors, serializer=_serialize)
    for router in ROUTERS:
        resolver.include_router(router)

    @resolver.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response:
        problems = tuple(_field_problem(e) for e in error.errors())
        return error_response(422, "invalid_request", _summary(problems), problems)

    @resolver.exception_handler(AdminError)
    def refused(error: AdminError) -> Response:
        return error_response(error.status, error.type, error.message, error.fields)

    @resolver.not_found
    def not_found(_: Exception) -> Response:
        return error_response(404, "not_found", "There is no such admin API endpoint.", ())

    @resolver.exception_handler(Exception)
    def failed(error: Exception) -> Response:
        # Anything else is ours (or a dependency's) to fix: logged with its trace, answered without details.
        request_id = scope().request_id
        if _dependency_unavailable(error):
            logger.exception("admin request failed: a dependency is unavailable", extra={"request_id": request_id})
            return error_response(503, "unavailable", "A service Overspill depends on did not answer; try again "
                                  f"shortly (request {request_id}).", ())
        logger.exception("admin request failed", extra={"request_id": request_id})
        return error_response(500, "api_error", "Overspill could not complete this request; try again, and give "
                              f"an operator the request id {request_id} if it persists.", ())

    return resolver


def error_response(status: int, kind: str, message: str, fields: tuple[FieldProblem, ...]) -> Response:
    body = {"error": {"type": kind, "message": message,
                      "fields": [{"field": f.field, "message": f.message} for f in fields]}}
    return Response(status, "application/json", _serialize(body),
                    headers={"Cache-Control": "no-store"})


def created(answer: Any, replayed: bool) -> Response:
    """A 201 with the answer of a create; a replay (repeated Idempotency-Key) says so in a header."""
    body = answer.model_dump(mode="json") if hasattr(answer, "model_dump") else answer
    return Response(201, "application/json", body, headers={"Idempotent-Replayed": "true"} if replayed else {})


def _field_problem(error: dict[str, Any]) -> FieldProblem:
    location = [str(part) for part in error.get("loc", ())]
    # ("body", "budget_usd") → "budget_usd"; ("query", "limit") → "limit"; ("path", "user_id") → "user_id"
    where = location[1:] if location and location[0] in ("body", "query", "path", "header") else location
    field = ".".join(where) or (location[0] if location else "body")
    return FieldProblem(field, _message_of(error))


def _message_of(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind == "missing":
        return "is required"
    message = str(error.get("msg") or kind or "is not valid")
    return message[0].lower() + message[1:] if message else message


def _summary(problems: tuple[FieldProblem, ...]) -> str:
    if not problems:
        return "The request is not valid."
    named = "; ".join(f"{p.field}: {p.message}" for p in problems[:5])
    return f"The request is not valid: {named}."


class AdminApi:
    """The admin function's whole behaviour: ``handle(event, context)`` for a Function URL (payload 2.0)."""

    def __init__(self, services: AdminServices) -> None:
        self.services = services
        self._resolver = build_resolver(services.settings.admin_cors_origin)
        # Powertools keeps the current event on the resolver: one request at a time. Lambda sends one per
        # instance anyway; the local run serves the admin API from many threads.
        self._lock = threading.Lock()

    @property
    def resolver(self) -> LambdaFunctionUrlResolver:
        return self._resolver

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        http = (event.get("requestContext") or {}).get("http") or {}
        method = str(http.get("method") or "GET").upper()
        path = str(event.get("rawPath") or http.get("path") or "/")
        request_id = (event.get("requestContext") or {}).get("requestId")
        caller: Principal | None = None
        known = False
        if method != "OPTIONS":  # CORS preflights carry no token; the resolver answers them
            known, role = role_for(method, path)
            if role is not OPEN or not known:
                try:
                    verifier = self.services.verifier
                except SettingsError as error:
                    # A deployment mistake, not the caller's: say so instead of failing every request with a 502.
                    logger.error("admin API not configured", extra={"error": str(error)})
                    return self._early(event, error_response(503, "unavailable", f"The admin API is not configured: "
                                                                                f"{error}.", ()))
                try:
                    caller = verifier.authenticate(_header(event, "authorization"))
                    if role is not OPEN:
                        require(caller, role)
                except IdentityError as error:
                    logger.info("admin request refused", extra={"status": error.status, "reason": error.reason,
                                                                 "method": method, "path": path})
                    return self._early(event, error_response(error.status, _identity_error_type(error.status),
                                                             error.message, ()))
        if event.get("body"):
            if not _is_json(_header(event, "content-type")):
                return self._early(event, error_response(415, "invalid_request", "Send the request body as JSON "
                                                         "(Content-Type: application/json).", ()))
            if not _is_utf8(event):
                return self._early(event, error_response(400, "invalid_request", "The request body is not UTF-8 "
                                                                                 "text.", ()))
        if known and (unknown := unknown_query_parameters(method, path, event.get("queryStringParameters"))):
            problems = tuple(FieldProblem(name or "(empty name)", "This query parameter is not one this operation "
                                          "takes.") for name in unknown[:5])
            return self._early(event, error_response(422, "invalid_request", _summary(problems), problems))
        if not known and method != "OPTIONS" and (methods := allowed_methods(path)):
            response = error_response(405, "invalid_request", f"{method} is not allowed here; use "
                                      f"{', '.join(methods)}.", ())
            response.headers["Allow"] = ", ".join(methods)
            return self._early(event, response)
        token = _scope.set(RequestScope(self.services, caller, request_id))
        try:
            with self._lock:
                if method == "POST" and context is not None:
                    # Lets an interrupted create's in-progress record expire with this invocation's deadline.
                    self.services.idempotency.register(context)
                return self._resolver.resolve(event, context)
        finally:
            _scope.reset(token)


    def _early(self, event: dict[str, Any], response: Response) -> dict[str, Any]:
        """An answer given before the resolver runs, with the CORS header the resolver would have added, so that a
        dashboard on the configured origin can read a 401 and send its user to sign in."""
        origin = self.services.settings.admin_cors_origin
        if origin and _header(event, "origin") == origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return _as_dict(response)


# DynamoDB's answers that mean "not now" rather than "wrong" (throttled, or the service itself failing).
_UNAVAILABLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException",
                                "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable"})


def _dependency_unavailable(error: BaseException) -> bool:
    """A connection that failed or timed out, or a throttled / failing AWS service, anywhere in the cause chain."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, BotoCoreError):  # connect errors, timeouts (not ClientError: that is an answer)
            return True
        if isinstance(seen, PynamoDBConnectionError) and seen.cause_response_code in _UNAVAILABLE_CODES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_utf8(event: dict[str, Any]) -> bool:
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
        raw.decode("utf-8")
    except (ValueError, UnicodeError):
        return False
    return True


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and
                                                media_type.endswith("+json"))


def _identity_error_type(status: int) -> str:
    return {401: "authentication_error", 403: "permission_error"}.get(status, "unavailable")


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


def _as_dict(response: Response) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **{k: v for k, v in response.headers.items()
                                                        if isinstance(v, str)}}
    return {"statusCode": int(HTTPStatus(response.status_code)), "headers": headers,
            "body": response.body, "isBase64Encoded": False, "cookies": []}


ERROR_BODY_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["type", "message", "fields"],
        "properties": {
            "type": {"type": "string", "description": "authentication_error, permission_error, invalid_request, "
                                                     "not_found, conflict or unavailable"},
            "message": {"type": "string", "description": "What went wrong, for a person"},
            "fields": {"type": "array", "description": "The fields at fault (bad input only)", "items": {
                "type": "object", "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            }},
        },
    }},
}
_ERROR_RESPONSES = {
    "400": "The body is not UTF-8 text, or not JSON",
    "401": "No access token, or one this deployment does not accept",
    "403": "Signed in, but the role does not allow this operation",
    "404": "No such user, key, export, …",
    "409": "The change does not apply to the current state (a stale version, already deleted, …)",
    "415": "The body is not JSON",
    "422": "Bad input; `fields` names each field at fault",
    "500": "Overspill failed (the message carries a request id for an operator)",
    "503": "Sign-in cannot be checked, or something the API depends on is down; try again shortly",
}


def openapi_document(resolver: LambdaFunctionUrlResolver) -> str:
    """The OpenAPI document of the admin API (committed at docs/openapi.json; a test keeps it current).

    Powertools documents its own validation-error shape; this API answers every error with one body (``Error``),
    so the document is corrected to say so, for every status an operation can refuse with."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    document = orjson.loads(resolver.get_openapi_json_schema(
        title=API_TITLE, version=API_VERSION,
        description=("Manage Overspill: users, access keys, Bedrock credentials, breakers, usage, pricing, "
                     "exports and the audit log. Every operation but GET /api/health needs a Cognito access "
                     "token (Authorization: Bearer …); `x-overspill-role` names the role it needs (admin may "
                     "do everything finance may)."),
        security_schemes={"cognito": HTTPBearer(scheme="bearer", bearerFormat="JWT")},
        security=[{"cognito": []}],
    ))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR_BODY_SCHEMA
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if operation.get(ROLE_EXTENSION) == "none":
                responses.pop("422", None)
                operation["security"] = []
                continue
            for status, description in _ERROR_RESPONSES.items():
                responses[status] = {"description": description, **error}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
