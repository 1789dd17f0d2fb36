"""What an AWS request is, read from the request itself as AWS reads it, and errors in its protocol's shape.

:func:`identify` names the call botocore made: the service (botocore's name: ``sesv2``, ``iam``,
``cloudwatch`` ...), the operation (the API name: ``GetEmailIdentity``), the region (the SigV4 credential
scope) and the wire protocol, from

- ``X-Amz-Target: Prefix.Operation`` (JSON 1.0 / 1.1: CloudTrail, CloudWatch, EventBridge),
- ``/service/Prefix/operation/Operation`` (Smithy RPC v2 CBOR, which CloudWatch also speaks),
- ``Action=Operation`` in the form or the query string (the query protocol: IAM, STS, SES v1, SNS),
- the method and path matched against the service's REST routes in botocore's model (SES v2, Account).

:func:`error` answers an error the way that protocol carries it (a header and a JSON body, a JSON
``__type``, an XML ``ErrorResponse``, a CBOR map), so botocore parses the code and message as AWS's.
"""

from __future__ import annotations

import functools
import io
import json
import re
import uuid
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit
from wsgiref.types import WSGIEnvironment
from xml.sax.saxutils import escape

from maildoctor.lab.faults import IAM_PREFIX

Response = tuple[int, dict[str, str], bytes]
Protocol = Literal["rest-json", "json", "query", "cbor", "unknown"]

# The services whose routes and targets are known (the mail stack and what maildoctor may ask).
SERVICES = ("sesv2", "ses", "iam", "sts", "cloudwatch", "cloudtrail", "events", "account", "sns")


@dataclass(frozen=True)
class Call:
    service: str  # botocore's service name, or the credential scope's when the service is unknown
    operation: str  # the API name, "" when it could not be told
    region: str
    protocol: Protocol
    json_version: str = "1.1"
    query_compatible: bool = False  # a former query service: errors also carry the query code
    xml_namespace: str = ""


@dataclass(frozen=True)
class _Service:
    name: str
    protocol: str
    scope: frozenset[str]  # signing name and endpoint prefix
    target_prefix: str
    json_version: str
    query_compatible: bool
    xml_namespace: str
    routes: tuple[tuple[str, re.Pattern[str], int, str], ...]  # (method, path regex, literal length, op)


@functools.cache
def _services() -> tuple[_Service, ...]:
    import botocore.session

    session = botocore.session.get_session()
    found = []
    for name in SERVICES:
        model = session.get_service_model(name)
        meta = model.metadata
        routes = []
        if meta.get("protocol") in ("rest-json", "rest-xml"):
            for op in model.operation_names:
                http = model.operation_model(op).http
                uri = str(http.get("requestUri", "/")).split("?", 1)[0]
                pattern = re.sub(
                    r"\\\{([^}]+)\\\}",
                    lambda m: ".+" if m.group(1).endswith("\\+") else "[^/]+",
                    re.escape(uri),
                )
                literal = len(re.sub(r"\{[^}]+\}", "", uri))
                routes.append((str(http.get("method", "GET")), re.compile(f"^{pattern}/?$"), literal, op))
        found.append(
            _Service(
                name=name,
                protocol=str(meta.get("protocol", "")),
                scope=frozenset(s for s in (meta.get("signingName"), meta.get("endpointPrefix")) if s),
                target_prefix=str(meta.get("targetPrefix", "")),
                json_version=str(meta.get("jsonVersion", "1.1")),
                query_compatible="awsQueryCompatible" in meta,
                xml_namespace=str(meta.get("xmlNamespace", "")),
                routes=tuple(routes),
            )
        )
    return tuple(found)


def credential_scope(environ: WSGIEnvironment) -> tuple[str, str]:
    """(region, service) from the SigV4 credential scope: ``Credential=AKID/DATE/REGION/SERVICE/aws4_request``."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    start = auth.find(marker)
    if start >= 0:
        scope = auth[start + len(marker) :].split(",", 1)[0].strip().split("/")
        if len(scope) >= 5:
            return scope[-3], scope[-2]
    return "us-east-1", ""


def read_body(environ: WSGIEnvironment) -> bytes:
    """The request body, put back for whoever reads it next (moto)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


def read_form(environ: WSGIEnvironment) -> dict[str, str]:
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = read_body(environ).decode("utf-8", "replace")
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


def request_path(environ: WSGIEnvironment) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    return urlsplit(raw).path


def identify(environ: WSGIEnvironment) -> Call:
    """The call a request makes (see the module's docstring); never raises."""
    region, scope = credential_scope(environ)
    services = _services()
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    path = request_path(environ)

    def call(service: _Service | None, operation: str, protocol: Protocol) -> Call:
        if service is None:
            return Call(scope, operation, region, protocol)
        return Call(
            service.name,
            operation,
            region,
            protocol,
            json_version=service.json_version,
            query_compatible=service.query_compatible,
            xml_namespace=service.xml_namespace,
        )

    cbor = re.match(r"^/service/([^/]+)/operation/([^/]+)$", path)
    if cbor:
        prefix, operation = cbor.groups()
        return call(next((s for s in services if s.target_prefix == prefix), None), operation, "cbor")
    if target:
        prefix, _, operation = target.rpartition(".")
        service = next((s for s in services if s.target_prefix and s.target_prefix == prefix), None)
        content = environ.get("CONTENT_TYPE", "")
        found = call(service, operation, "json")
        if service is None and "json-1.0" in content:
            found = Call(scope, operation, region, "json", json_version="1.0")
        return found
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    action = read_form(environ).get("Action") or query.get("Action")
    if action:
        service = next((s for s in services if s.protocol == "query" and scope in s.scope), None)
        return call(service, action, "query")
    method = environ.get("REQUEST_METHOD", "GET")
    rest = [s for s in services if s.routes and (not scope or scope in s.scope)]
    best: tuple[int, _Service, str] | None = None
    for service in rest:
        for route_method, pattern, literal, operation in service.routes:
            if route_method == method and pattern.match(path) and (best is None or literal > best[0]):
                best = (literal, service, operation)
    if best is not None:
        return call(best[1], best[2], "rest-json")
    return Call(scope, "", region, "unknown")


# --------------------------------------------------------------------------------------------------
# errors


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    return _cbor_head(3, len(data)) + data


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    if length < 0x100:
        return bytes([major << 5 | 24, length])
    if length < 0x10000:
        return bytes([major << 5 | 25]) + length.to_bytes(2, "big")
    return bytes([major << 5 | 26]) + length.to_bytes(4, "big")


def _cbor_map(items: dict[str, str]) -> bytes:
    return _cbor_head(5, len(items)) + b"".join(_cbor_text(k) + _cbor_text(v) for k, v in items.items())


def error(call: Call, status: int, code: str, message: str, *, query_code: str | None = None) -> Response:
    """An error answer to ``call`` in its protocol. ``query_code`` is the code a query-compatible
    JSON/CBOR service also sends in ``x-amzn-query-error`` (botocore reports that one)."""
    request_id = str(uuid.uuid4())
    fault = "Receiver" if status >= 500 else "Sender"
    headers = {"x-amzn-RequestId": request_id}
    if call.protocol == "query":
        namespace = f' xmlns="{escape(call.xml_namespace)}"' if call.xml_namespace else ""
        body = (
            f"<ErrorResponse{namespace}><Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status, {**headers, "Content-Type": "text/xml"}, body.encode()
    if call.query_compatible:
        headers["x-amzn-query-error"] = f"{query_code or code};{fault}"
    if call.protocol == "cbor":
        headers |= {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
        return status, headers, _cbor_map({"__type": code, "message": message})
    if call.protocol == "json":
        headers["Content-Type"] = f"application/x-amz-json-{call.json_version}"
        return status, headers, json.dumps({"__type": code, "message": message}).encode()
    headers |= {"Content-Type": "application/json", "x-amzn-ErrorType": code}
    return status, headers, json.dumps({"message": message}).encode()


_OPERATOR_ARN = "arn:aws:iam::123456789012:user/lab-operator"
_TOKEN_INVALID = "The security token included in the request is invalid."
_QUERY_CODED = ("sts", "iam", "cloudwatch", "ses", "sns")  # services that name it InvalidClientTokenId


def region_disabled_error(call: Call) -> Response:
    """What AWS answers a request signed for a region the account has not enabled: 403 "security token
    ... invalid" (InvalidClientTokenId in the query services, UnrecognizedClientException in the JSON ones),
    not an AccessDenied."""
    if call.protocol == "query" or call.service in _QUERY_CODED:
        return error(call, 403, "InvalidClientTokenId", _TOKEN_INVALID, query_code="InvalidClientTokenId")
    code = "UnrecognizedClientException"
    json_type = (
        f"application/x-amz-json-{call.json_version}" if call.protocol == "json" else "application/json"
    )
    headers = {"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-ErrorType": code, "Content-Type": json_type}
    return 403, headers, json.dumps({"__type": code, "message": _TOKEN_INVALID}).encode()


def fault_error(call: Call, kind: str) -> Response:
    """The answer of an ``aws-throttle`` / ``aws-deny`` / ``aws-scp-deny`` / ``aws-500`` / ``aws-503``
    fault to ``call``."""
    rest = call.protocol == "rest-json"
    plain_json = call.protocol in ("json", "cbor") and not call.query_compatible
    if kind == "aws-throttle":
        if rest:
            return error(call, 429, "TooManyRequestsException", "Too Many Requests")
        if plain_json:
            return error(call, 400, "ThrottlingException", "Rate exceeded")
        return error(call, 400, "Throttling", "Rate exceeded")
    if kind in ("aws-deny", "aws-scp-deny"):
        action = f"{IAM_PREFIX.get(call.service, call.service)}:{call.operation}"
        why = (  # IAM's wording of the two (the IAM guide's "access denied error messages")
            "with an explicit deny in a service control policy"
            if kind == "aws-scp-deny"
            else f"because no identity-based policy allows the {action} action"
        )
        message = f"User: {_OPERATOR_ARN} is not authorized to perform: {action} on resource: * {why}"
        if rest:
            return error(call, 403, "AccessDeniedException", message)
        if plain_json:
            return error(call, 400, "AccessDeniedException", message)
        return error(call, 403, "AccessDenied" if not call.query_compatible else "AccessDeniedException",
                     message, query_code="AccessDenied")  # fmt: skip
    if kind == "aws-500":
        code = "ServiceFailure" if call.service == "iam" else "InternalFailure"
        return error(call, 500, code, "An internal error occurred. Try again.", query_code=code)
    return error(call, 503, "ServiceUnavailable", "Service is unavailable. Try again later.")
