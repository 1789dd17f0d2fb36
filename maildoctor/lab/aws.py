"""The lab's AWS endpoint: moto in server mode, behind a thin WSGI layer that answers what moto lacks.

One HTTP endpoint on loopback serves every service boto3 asks for (``endpoint_url=server.endpoint_url``).
The layer in front of moto answers, from the loaded scenario:

- SES v2 GetEmailIdentity, ListEmailIdentities, GetAccount, GetConfigurationSet, GetSuppressedDestination
  and ListSuppressedDestinations (moto's SES identities always look verified and it has no account or
  suppression state);
- CloudTrail LookupEvents (not in moto): IAM events in us-east-1, the account's own SES pause
  (UpdateAccountSendingEnabled, PutAccountSendingAttributes) in the region it applies to;
- Account ListRegions, with the opt-in regions disabled as in a new account unless the scenario enables
  or names them; a request signed for a disabled region answers "security token invalid" (403
  UnrecognizedClientException, or InvalidClientTokenId in the query services) before anything else;
- IAM SimulatePrincipalPolicy (not in moto), evaluated from the user's policies as moto holds them.

Everything else (IAM, STS, CloudWatch, EventBridge, other SES calls) is moto's, seeded at load time: IAM
users, inline policies and access keys with the scenario's exact ids, secrets, statuses and dates, the
scenario's EventBridge rules (``eventbridge``: patterns and states, on the default bus), and the
account's reputation rates as ``AWS/SES`` CloudWatch metrics.

The region of a request is taken from its SigV4 credential scope, as AWS does.

Every request is recorded as ``(service, operation, region)`` (``LabAwsServer.operations()``, named by
maildoctor.lab.protocols from the request itself) and, apart, timed (``LabAwsServer.calls()``: when it came
in and when its answer was ready, in this process's ``time.monotonic()`` seconds). The lab's faults
(``set_faults(AwsFaults(...))``, see maildoctor.lab.faults) answer before anything else: latency, a hang,
or throttling, AccessDenied and 5xx errors in the protocol shape of the service asked, and SES's rate
(``aws-ses-rate``: a token bucket per region).
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import functools
import hashlib
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from xml.sax.saxutils import escape

from maildoctor.lab.faults import AwsFaults
from maildoctor.lab.protocols import (
    Call,
    credential_scope,
    fault_error,
    identify,
    read_body,
    read_form,
    region_disabled_error,
    request_path,
)
from maildoctor.lab.scenario import (
    LAB_ACCOUNT_ID,
    OPT_IN_REGIONS,
    Identity,
    Policy,
    Scenario,
    TrailEvent,
    User,
    parse_when,
)
from maildoctor.lab.scenario import now as scenario_now
from maildoctor.lab.service import Service

log = logging.getLogger(__name__)

Response = tuple[int, dict[str, str], bytes]

CLOUDTRAIL_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
IAM_XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
LAB_OPERATOR_ARN = f"arn:aws:iam::{LAB_ACCOUNT_ID}:user/lab-operator"  # who the lab says calls
LOOKUP_KEYS = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)
CLOUDTRAIL_RETENTION = timedelta(days=90)
HANG_LIMIT_S = 300.0  # aws-hang holds a request at most this long (or until the fault is cleared)
IAM_REGION = "us-east-1"  # IAM is global; its CloudTrail events are recorded in us-east-1 only
LIST_REGIONS_PAGE = 20  # ListRegions' page when MaxResults is not given (not documented: the lab's choice)
_NS = uuid.UUID("5d1c1b1e-6a8f-4f5e-9a43-6d61696c646f")  # namespace for the lab's stable ids


@dataclass(frozen=True)
class AwsCall:
    """One request served, timed: ``start`` when it came in, ``end`` when its answer was ready (after any
    latency), both ``time.monotonic()`` seconds of the lab's process."""

    service: str
    operation: str
    region: str
    start: float
    end: float
    layer: ClassVar[str] = "aws"

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


@functools.cache
def partition_regions() -> tuple[str, ...]:
    """The regions of the ``aws`` partition botocore knows (EC2's, which every region has, and SES's)."""
    import botocore.session

    session = botocore.session.get_session()
    found = {r for service in ("ec2", "sesv2") for r in session.get_available_regions(service, "aws")}
    return tuple(sorted(found))


def _stable(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _b32(*parts: str, length: int) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return base64.b32encode(digest).decode()[:length]


def _epoch(when: datetime) -> float:
    return when.timestamp()


def _iso_z(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _naive_utc(when: datetime) -> datetime:
    """moto keeps naive UTC datetimes."""
    return when.astimezone(UTC).replace(tzinfo=None)


def _java_date(when: datetime) -> str:
    """The date format IAM puts in CloudTrail responseElements: ``Nov 25, 2026 1:37:00 PM``."""
    when = when.astimezone(UTC)
    hour = when.hour % 12 or 12
    return f"{when:%b} {when.day}, {when.year} {hour}:{when:%M:%S} {'AM' if when.hour < 12 else 'PM'}"


def _parse_time(value: Any) -> datetime:
    """A timestamp as botocore sends it: epoch seconds (JSON bodies) or ISO 8601 (query strings)."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _encode_token(offset: int, kind: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": kind, "o": offset}).encode()).decode()


def _decode_token(token: str | None, kind: str) -> int | None:
    """The offset in a NextToken made by :func:`_encode_token`; None when the token is not ours."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["o"]
        if data["k"] != kind or not isinstance(offset, int) or offset < 0:
            return None
        return offset
    except (ValueError, KeyError, TypeError):
        return None


# ---------------------------------------------------------------------------------------------------
# the state served, built once per load


@dataclass(frozen=True)
class _Trail:
    """A scenario CloudTrail event, resolved: times fixed, ids invented once."""

    event: TrailEvent
    when: datetime
    event_id: str
    request_id: str
    actor_key: str
    username: str
    resources: tuple[tuple[str, str], ...]  # (type, name)
    record: str  # the CloudTrailEvent JSON


@dataclass(frozen=True)
class _State:
    scenario: Scenario
    now: datetime
    trail: tuple[_Trail, ...]  # newest first


_READ_EVENTS = ("GetUser", "ListAccessKeys", "GetAccessKeyLastUsed", "ListUsers")
_READERS = ("alice", "SecurityAudit/scanner")  # a console viewer and a scanner's role session


def _read_events(scenario: Scenario, now: datetime) -> list[tuple[TrailEvent, datetime]]:
    """``cloudtrail_read_events`` read events about the scenario's users and keys, spread evenly over
    the 90 days (newest a minute ago), as a console viewer and a scanner fill real event history."""
    count = scenario.cloudtrail_read_events
    named = {(e.user, e.key) for e in scenario.cloudtrail if e.key}  # deleted keys are looked at too
    users = [
        (u.name, [k.id for k in u.keys] + sorted(k for n, k in named if n == u.name and k))
        for u in scenario.iam.users
    ] or [("alice", [])]
    step = (CLOUDTRAIL_RETENTION - timedelta(hours=1)) / max(count, 1)
    out = []
    for index in range(count):
        name = _READ_EVENTS[index % len(_READ_EVENTS)]
        user, keys = users[index % len(users)]
        key = keys[index % len(keys)] if keys and name == "GetAccessKeyLastUsed" else None
        event = TrailEvent(event=name, time="now", actor=_READERS[index % 2], user=user, key=key)
        out.append((event, now - timedelta(minutes=1) - step * index))
    return out


def _build_trail(scenario: Scenario, now: datetime) -> tuple[_Trail, ...]:
    trail: list[_Trail] = []
    timed = [(event, parse_when(event.time, now)) for event in scenario.cloudtrail]
    for index, (event, when) in enumerate([*timed, *_read_events(scenario, now)]):
        read_only = event.event in _READ_EVENTS
        seed = (scenario.name, str(index), event.event, event.actor, event.user or "", event.key or "")
        event_id = str(uuid.uuid5(_NS, "event\x1f" + "\x1f".join(seed)))
        request_id = str(uuid.uuid5(_NS, "request\x1f" + "\x1f".join(seed)))
        identity, username, actor_key = _user_identity(event.actor, when)
        resources: list[tuple[str, str]] = []
        request: dict[str, Any] | None = None
        response: dict[str, Any] | None = None
        host = "iam.amazonaws.com"
        command = "iam." + "".join("-" + c.lower() if c.isupper() else c for c in event.event).lstrip("-")
        if event.event == "UpdateAccountSendingEnabled":  # SES v1 API; the event names no resource
            request = {"enabled": event.enabled}
            host, command = f"email.{event.region}.amazonaws.com", "ses.update-account-sending-enabled"
        elif event.event == "PutAccountSendingAttributes":  # SES v2 API
            request = {"sendingEnabled": event.enabled}
            host, command = f"email.{event.region}.amazonaws.com", "sesv2.put-account-sending-attributes"
        elif event.user is not None:  # an IAM event (the validator wants a user for those)
            if event.key:
                resources.append(("AWS::IAM::AccessKey", event.key))
            resources.append(("AWS::IAM::User", event.user))
            request = {"userName": event.user} if event.event != "ListUsers" else None
        if request is not None and event.key and event.event != "CreateAccessKey":
            request["accessKeyId"] = event.key
        if request is not None and event.status and event.event == "UpdateAccessKey":
            request["status"] = event.status
        if event.event == "CreateAccessKey" and event.key:
            response = {
                "accessKey": {
                    "userName": event.user,
                    "accessKeyId": event.key,
                    "status": "Active",
                    "createDate": _java_date(when),
                }
            }
        elif event.event == "CreateUser" and event.user:
            response = {
                "user": {
                    "path": "/",
                    "userName": event.user,
                    "userId": "AIDA" + _b32("user", event.user, length=17),
                    "arn": f"arn:aws:iam::{LAB_ACCOUNT_ID}:user/{event.user}",
                    "createDate": _java_date(when),
                }
            }
        record = {
            "eventVersion": "1.08",
            "userIdentity": identity,
            "eventTime": _iso_z(when),
            "eventSource": event.source,
            "eventName": event.event,
            "awsRegion": event.region,
            "sourceIPAddress": event.source_ip,
            "userAgent": f"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/{command}",
            "requestParameters": request,
            "responseElements": response,
            "requestID": request_id,
            "eventID": event_id,
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": LAB_ACCOUNT_ID,
            "eventCategory": "Management",
            "tlsDetails": {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": host,
            },
        }
        trail.append(
            _Trail(
                event=event,
                when=when,
                event_id=event_id,
                request_id=request_id,
                actor_key=actor_key,
                username=username,
                resources=tuple(resources),
                record=json.dumps(record),
            )
        )
    trail.sort(key=lambda t: t.when, reverse=True)
    return tuple(trail)


def _user_identity(actor: str, when: datetime) -> tuple[dict[str, Any], str, str]:
    """userIdentity for an actor: an IAM user name, or ``ROLE/SESSION`` for an assumed-role session.

    Returns the identity, the Username CloudTrail shows, and the (invented, stable) access key id used.
    """
    if "/" in actor:
        role, session = actor.split("/", 1)
        role_id = "AROA" + _b32("role", role, length=17)
        key = "ASIA" + _b32("key", actor, length=16)
        identity = {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{session}",
            "arn": f"arn:aws:sts::{LAB_ACCOUNT_ID}:assumed-role/{role}/{session}",
            "accountId": LAB_ACCOUNT_ID,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": f"arn:aws:iam::{LAB_ACCOUNT_ID}:role/{role}",
                    "accountId": LAB_ACCOUNT_ID,
                    "userName": role,
                },
                "attributes": {
                    "creationDate": _iso_z(when - timedelta(minutes=10)),
                    "mfaAuthenticated": "false",
                },
            },
        }
        return identity, session, key
    key = "AKIA" + _b32("key", actor, length=16)
    identity = {
        "type": "IAMUser",
        "principalId": "AIDA" + _b32("user", actor, length=17),
        "arn": f"arn:aws:iam::{LAB_ACCOUNT_ID}:user/{actor}",
        "accountId": LAB_ACCOUNT_ID,
        "accessKeyId": key,
        "userName": actor,
    }
    return identity, actor, key


# ---------------------------------------------------------------------------------------------------
# responses


def _json(status: int, body: Any, content_type: str = "application/json", **headers: str) -> Response:
    out = {"Content-Type": content_type, "x-amzn-RequestId": str(uuid.uuid4())}
    out.update(headers)
    return status, out, json.dumps(body).encode()


def _rest_error(status: int, code: str, message: str) -> Response:
    """An error in the REST-JSON protocol (SES v2)."""
    return _json(status, {"message": message}, **{"x-amzn-ErrorType": code})


def _json11_error(code: str, message: str, status: int = 400) -> Response:
    """An error in the JSON 1.1 protocol (CloudTrail)."""
    return _json(status, {"__type": code, "Message": message}, "application/x-amz-json-1.1")


def _xml(status: int, body: str) -> Response:
    return status, {"Content-Type": "text/xml"}, body.encode()


def _iam_error(status: int, code: str, message: str) -> Response:
    return _xml(
        status,
        f'<ErrorResponse xmlns="{IAM_XMLNS}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>",
    )


# ---------------------------------------------------------------------------------------------------
# the WSGI layer


class _LabApp:
    """Answers what moto lacks from the loaded scenario; passes everything else to moto."""

    def __init__(self, moto_app: WSGIApplication) -> None:
        self.moto_app = moto_app
        self.state: _State | None = None
        self.faults = AwsFaults()
        self.released = threading.Event()  # set: requests held by aws-hang are let go
        self.released.set()
        self.stopping = threading.Event()  # set by stop(): no request waits any longer
        self.operations: list[tuple[str, str, str]] = []
        self.calls: list[AwsCall] = []  # the same requests, timed (appended when answered)
        self.operations_lock = threading.Lock()
        self.buckets: dict[str, tuple[float, float]] = {}  # aws-ses-rate: region -> (tokens, when)
        self.buckets_lock = threading.Lock()

    def set_faults(self, faults: AwsFaults) -> None:
        if faults.hang and not self.faults.hang:
            self.released = threading.Event()
        if faults.ses_rate != self.faults.ses_rate:
            with self.buckets_lock:
                self.buckets.clear()  # a new limit starts with full buckets
        self.faults = faults
        if not faults.hang:
            self.released.set()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start = time.monotonic()
        call: Call | None = None
        try:
            call = identify(environ)
            with self.operations_lock:
                self.operations.append((call.service, call.operation, call.region))
            answer = self.faulted(call) or self.region_disabled(call) or self.route(environ)
        except Exception:  # a bug in the lab must not look like an AWS answer
            log.exception(
                "lab AWS endpoint failed on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
            )
            answer = _json(
                500, {"message": "lab AWS endpoint internal error"}, **{"x-amzn-ErrorType": "InternalFailure"}
            )
        try:
            if answer is None:
                # moto answers with the whole body in a list: its answer is ready when it returns
                return self.moto_app(environ, start_response)
            status, headers, body = answer
            headers = {**headers, "Content-Length": str(len(body))}
            start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
            return [body]
        finally:
            if call is not None:
                self.record(call, start)

    def record(self, call: Call, start: float) -> None:
        timed = AwsCall(call.service, call.operation, call.region, start, time.monotonic())
        with self.operations_lock:
            self.calls.append(timed)

    def faulted(self, call: Call) -> Response | None:
        """The answer a fault gives this call, or None to answer it normally (after any latency)."""
        faults = self.faults
        if faults.hang:
            released = self.released
            released.wait(HANG_LIMIT_S)
            return fault_error(call, "aws-503")
        if faults.latency_ms:
            self.stopping.wait(faults.latency_ms / 1000)  # an Event, so that stop() cuts it short
        rule = faults.rule_for(call.service, call.operation)
        if rule:
            return fault_error(call, rule)
        if (
            faults.ses_rate
            and call.service in ("sesv2", "ses")
            and not self.admit(call.region, faults.ses_rate)
        ):
            return fault_error(call, "aws-throttle")  # SES v2 429 TooManyRequestsException, v1 Throttling
        return None

    def admit(self, region: str, rate: float) -> bool:
        """One call through the region's token bucket (``rate`` a second, holding max(1, rate))."""
        capacity = max(1.0, rate)
        now = time.monotonic()
        with self.buckets_lock:
            tokens, then = self.buckets.get(region, (capacity, now))
            tokens = min(capacity, tokens + (now - then) * rate)
            admitted = tokens >= 1.0
            self.buckets[region] = (tokens - 1.0 if admitted else tokens, now)
        return admitted

    def region_disabled(self, call: Call) -> Response | None:
        """Requests signed for an opt-in region the scenario's account has not enabled (as a new account)."""
        state = self.state
        if state is None or state.scenario.region_enabled(call.region):
            return None
        return region_disabled_error(call)

    # -- routing ------------------------------------------------------------------------------------

    def route(self, environ: WSGIEnvironment) -> Response | None:
        state = self.state
        if state is None:
            return None
        region, service = credential_scope(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        path = request_path(environ)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if path.startswith("/v2/email/"):
            return self.sesv2(state, region, method, path, environ)
        if target.startswith(CLOUDTRAIL_TARGET):
            if target[len(CLOUDTRAIL_TARGET) :] == "LookupEvents":
                return self.lookup_events(state, region, _read_json(environ))
            return None
        if service == "iam" and method == "POST":
            form = read_form(environ)
            if form.get("Action") == "SimulatePrincipalPolicy":
                return self.simulate_principal_policy(state, form)
            if form.get("Action") == "GetAccessKeyLastUsed":
                return self.get_access_key_last_used(state, form)
        if service == "account" and method == "POST" and path.rstrip("/") == "/listRegions":
            return self.list_regions(state, _read_json(environ))
        if service == "sts" and method == "POST":
            form = read_form(environ)
            if form.get("Action") == "GetAccessKeyInfo":
                return self.get_access_key_info(state, form)
        return None

    # -- SES v2 -------------------------------------------------------------------------------------

    def sesv2(
        self, state: _State, region: str, method: str, path: str, environ: WSGIEnvironment
    ) -> Response | None:
        parts = [unquote(p) for p in path.split("/")[3:]]  # after "", "v2", "email"
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if method == "GET" and len(parts) == 2 and parts[0] == "identities":
            return self.get_email_identity(state, region, parts[1])
        if (method == "GET" and parts == ["identities"]) or (
            method == "POST" and parts == ["list-identities"]
        ):
            params: dict[str, Any] = {k: v[-1] for k, v in query.items()}
            if method == "POST":
                params.update(_read_json(environ))
            return self.list_email_identities(state, region, params)
        if method == "GET" and parts == ["account"]:
            return self.get_account(state, region)
        if method == "GET" and len(parts) == 2 and parts[0] == "configuration-sets":
            return self.get_configuration_set(state, region, parts[1])
        if method == "POST" and parts == ["vdm", "recommendations"]:
            return self.list_recommendations(state, region, _read_json(environ))
        if method == "GET" and len(parts) == 3 and parts[:2] == ["suppression", "addresses"]:
            return self.get_suppressed_destination(state, region, parts[2])
        if method == "GET" and parts == ["suppression", "addresses"]:
            return self.list_suppressed_destinations(state, region, query)
        return None

    def get_email_identity(self, state: _State, region: str, name: str) -> Response:
        identity = state.scenario.identity(region, name)
        if identity is None:
            return _rest_error(404, "NotFoundException", f"Email identity {name} does not exist.")
        body: dict[str, Any] = {
            "IdentityType": identity.type,
            "FeedbackForwardingStatus": True,
            "VerifiedForSendingStatus": identity.verified_for_sending,
            "DkimAttributes": self._dkim(state, region, identity),
            # SES reports BehaviorOnMxFailure alone when no custom MAIL FROM domain is set
            "MailFromAttributes": {"BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
            "Policies": {},
            "Tags": [],
            "VerificationStatus": identity.verification,
            "VerificationInfo": {"LastCheckedTimestamp": _epoch(state.now - timedelta(hours=3))},
        }
        if identity.verification == "SUCCESS":
            body["VerificationInfo"]["LastSuccessTimestamp"] = _epoch(state.now - timedelta(hours=3))
        if identity.mail_from is not None:  # an address identity's own MAIL FROM as a domain's
            body["MailFromAttributes"] = {
                "MailFromDomain": identity.mail_from.domain,
                "MailFromDomainStatus": identity.mail_from.status,
                "BehaviorOnMxFailure": identity.mail_from.behavior_on_mx_failure,
            }
        if identity.configuration_set is not None:
            body["ConfigurationSetName"] = identity.configuration_set
        return _json(200, body)

    def get_configuration_set(self, state: _State, region: str, name: str) -> Response:
        found = state.scenario.configuration_set(region, name)
        if found is None:
            return _rest_error(404, "NotFoundException", f"Configuration set {name} does not exist.")
        body: dict[str, Any] = {
            "ConfigurationSetName": found.name,
            "DeliveryOptions": {"TlsPolicy": "OPTIONAL"},
            "ReputationOptions": {"ReputationMetricsEnabled": False},
            "SendingOptions": {"SendingEnabled": found.sending_enabled},
            "Tags": [],
        }
        if found.suppressed_reasons is not None:  # none: the set leaves suppression to the account
            body["SuppressionOptions"] = {"SuppressedReasons": list(found.suppressed_reasons)}
        return _json(200, body)

    def list_recommendations(self, state: _State, region: str, params: dict[str, Any]) -> Response:
        """SES v2 ListRecommendations, filtered by one key (TYPE, IMPACT, STATUS, RESOURCE_ARN), one page."""
        wanted = {str(k): str(v) for k, v in (params.get("Filter") or {}).items()}
        account = LAB_ACCOUNT_ID
        rows = []
        for r in state.scenario.recommendations.get(region, []):
            arn = f"arn:aws:ses:{region}:{account}:identity/{r.resource}" if r.resource else ""
            row = {"TYPE": r.type, "IMPACT": r.impact, "STATUS": r.status, "RESOURCE_ARN": arn}
            if any(row.get(k) != v for k, v in wanted.items()):
                continue
            when = _epoch(parse_when(r.time, state.now))
            rows.append({"ResourceArn": arn, "Type": r.type, "Description": r.description, "Status": r.status,
                         "CreatedTimestamp": when, "LastUpdatedTimestamp": when, "Impact": r.impact})  # fmt: skip
        return _json(200, {"Recommendations": rows})

    def _dkim(self, state: _State, region: str, identity: Identity) -> dict[str, Any]:
        dkim = identity.dkim
        if dkim is None and identity.type == "EMAIL_ADDRESS":
            # an address signs with the DKIM of its domain (or a parent domain) when that is an identity
            labels = identity.identity.rsplit("@", 1)[1].split(".")
            for i in range(len(labels) - 1):
                domain = state.scenario.identity(region, ".".join(labels[i:]))
                if domain is not None and domain.dkim is not None:
                    dkim = domain.dkim
                    break
        if dkim is None:
            return {
                "SigningEnabled": False,
                "Status": "NOT_STARTED",
                "SigningAttributesOrigin": "AWS_SES",
                "NextSigningKeyLength": "RSA_2048_BIT",
            }
        out: dict[str, Any] = {
            "SigningEnabled": dkim.signing_enabled,
            "Status": dkim.status,
            "Tokens": list(dkim.tokens),
            "SigningAttributesOrigin": dkim.origin,
        }
        if dkim.origin != "EXTERNAL":
            # the zone the CNAMEs point into; a DEED replica uses its parent's records (lab assumption)
            home = region
            if dkim.origin.startswith("AWS_SES_"):
                home = dkim.origin.removeprefix("AWS_SES_").lower().replace("_", "-")
            # regions with their own DKIM zone (ses-facts.md); the rest use the global one
            own = ("af-south-1", "ap-northeast-3", "ap-south-2", "ap-southeast-3", "ca-west-1",
                   "eu-central-2", "eu-south-1", "il-central-1", "me-central-1")  # fmt: skip
            out["SigningHostedZone"] = f"dkim.{home}.amazonses.com" if home in own else "dkim.amazonses.com"
        if dkim.origin == "AWS_SES":
            out["NextSigningKeyLength"] = "RSA_2048_BIT"
            out["CurrentSigningKeyLength"] = "RSA_2048_BIT"
            out["LastKeyGenerationTimestamp"] = _epoch(state.now - timedelta(days=30))
        return out

    def list_email_identities(self, state: _State, region: str, params: dict[str, Any]) -> Response:
        identities = list(state.scenario.identities.get(region, []))
        filters = params.get("Filter") or {}
        if isinstance(filters, dict):
            if "IDENTITY_TYPE" in filters:
                identities = [i for i in identities if i.type == filters["IDENTITY_TYPE"]]
            if "VERIFICATION_STATUS" in filters:
                identities = [i for i in identities if i.verification == filters["VERIFICATION_STATUS"]]
            if "IDENTITY_NAME_CONTAINS" in filters:
                needle = str(filters["IDENTITY_NAME_CONTAINS"]).lower()
                identities = [i for i in identities if needle in i.identity.lower()]
        page = _page_size(params.get("PageSize"), default=100, maximum=1000)
        offset = _decode_token(params.get("NextToken"), "identities")
        if page is None:
            return _rest_error(400, "BadRequestException", "PageSize must be between 1 and 1000.")
        if offset is None:
            return _rest_error(400, "BadRequestException", "Invalid NextToken.")
        chunk = identities[offset : offset + page]
        body: dict[str, Any] = {
            "EmailIdentities": [
                {
                    "IdentityType": i.type,
                    "IdentityName": i.identity,
                    "SendingEnabled": i.verified_for_sending,
                    "VerificationStatus": i.verification,
                }
                for i in chunk
            ]
        }
        if offset + page < len(identities):
            body["NextToken"] = _encode_token(offset + page, "identities")
        return _json(200, body)

    def get_account(self, state: _State, region: str) -> Response:
        account = state.scenario.account_in(region)
        body: dict[str, Any] = {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": account.enforcement,
            "ProductionAccessEnabled": account.production_access,
            "SendQuota": {
                "Max24HourSend": account.max_24h_send,
                "MaxSendRate": account.max_send_rate,
                "SentLast24Hours": account.sent_last_24h,
            },
            "SendingEnabled": account.sending_enabled,
            "SuppressionAttributes": {"SuppressedReasons": list(account.suppressed_reasons)},
        }
        if account.review_status is not None:
            domains = [i.identity for i in state.scenario.identities.get(region, []) if i.type == "DOMAIN"]
            case = int(_stable(state.scenario.name, region, "case")[:12], 16) % 10**11
            body["Details"] = {
                "MailType": "TRANSACTIONAL",
                "WebsiteURL": f"https://www.{domains[0]}" if domains else "https://www.example.com",
                "ContactLanguage": "EN",
                "UseCaseDescription": "Transactional mail (sign-in links, receipts, notifications) to our own users.",
                "ReviewDetails": {"Status": account.review_status, "CaseId": str(10**11 + case)},
            }
        return _json(200, body)

    def _suppressed(self, state: _State, region: str) -> list[tuple[str, str, datetime]]:
        """(address, reason, last update) of the region's suppression list, newest first."""
        rows: list[tuple[str, str, datetime]] = [
            (entry.address, entry.reason, parse_when(entry.time, state.now))
            for entry in state.scenario.suppression.get(region, [])
        ]
        rows.sort(key=lambda row: row[2], reverse=True)
        return rows

    def get_suppressed_destination(self, state: _State, region: str, address: str) -> Response:
        for email, reason, when in self._suppressed(state, region):
            if email.lower() == address.lower():
                seed = _stable(state.scenario.name, region, email)
                stamp = f"{int(_epoch(when) * 1000):012x}"
                return _json(
                    200,
                    {
                        "SuppressedDestination": {
                            "EmailAddress": email,
                            "Reason": reason,
                            "LastUpdateTime": _epoch(when),
                            "Attributes": {
                                "MessageId": f"0100{stamp}-{uuid.UUID(seed[:32])}-000000",
                                "FeedbackId": f"0100{stamp}-{uuid.UUID(seed[32:64])}-000000",
                            },
                        }
                    },
                )
        return _rest_error(
            404, "NotFoundException", f"Email address {address} does not exist on your suppression list."
        )

    def list_suppressed_destinations(
        self, state: _State, region: str, query: dict[str, list[str]]
    ) -> Response:
        rows = self._suppressed(state, region)
        reasons = query.get("Reason") or query.get("Reasons")
        if reasons:
            rows = [row for row in rows if row[1] in reasons]
        try:
            if query.get("StartDate"):
                start = _parse_time(query["StartDate"][-1])
                rows = [row for row in rows if row[2] >= start]
            if query.get("EndDate"):
                end = _parse_time(query["EndDate"][-1])
                rows = [row for row in rows if row[2] <= end]
        except ValueError:
            return _rest_error(400, "BadRequestException", "StartDate and EndDate must be timestamps.")
        page = _page_size(_last(query, "PageSize"), default=1000, maximum=1000)
        offset = _decode_token(_last(query, "NextToken"), "suppression")
        if page is None:
            return _rest_error(400, "BadRequestException", "PageSize must be between 1 and 1000.")
        if offset is None:
            return _rest_error(400, "InvalidNextTokenException", "The NextToken is invalid.")
        body: dict[str, Any] = {
            "SuppressedDestinationSummaries": [
                {"EmailAddress": email, "Reason": reason, "LastUpdateTime": _epoch(when)}
                for email, reason, when in rows[offset : offset + page]
            ]
        }
        if offset + page < len(rows):
            body["NextToken"] = _encode_token(offset + page, "suppression")
        return _json(200, body)

    # -- CloudTrail ---------------------------------------------------------------------------------

    def lookup_events(self, state: _State, region: str, params: dict[str, Any]) -> Response:
        attributes = params.get("LookupAttributes") or []
        if len(attributes) > 1:
            return _json11_error(
                "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute."
            )
        wanted: tuple[str, str] | None = None
        if attributes:
            key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
            if key not in LOOKUP_KEYS:
                return _json11_error(
                    "InvalidLookupAttributesException", f"Lookup attribute key {key} is not valid."
                )
            if not isinstance(value, str) or not value:
                return _json11_error(
                    "InvalidLookupAttributesException", "The lookup attribute value must not be empty."
                )
            wanted = (key, value)
        try:
            start = _parse_time(params["StartTime"]) if params.get("StartTime") is not None else None
            end = _parse_time(params["EndTime"]) if params.get("EndTime") is not None else None
        except ValueError:
            return _json11_error("InvalidTimeRangeException", "StartTime and EndTime must be timestamps.")
        if start is not None and end is not None and start > end:
            return _json11_error("InvalidTimeRangeException", "Start time must be before the end time.")
        max_results = params.get("MaxResults", 50)
        if not isinstance(max_results, int) or not 1 <= max_results <= 50:
            return _json11_error("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
        offset = _decode_token(params.get("NextToken"), "trail")
        if offset is None:
            return _json11_error("InvalidNextTokenException", "Invalid NextToken.")
        if params.get("EventCategory") == "insight":
            return _json(200, {"Events": []}, "application/x-amz-json-1.1")

        oldest = state.now - CLOUDTRAIL_RETENTION
        found = []
        for item in state.trail:
            if item.event.region != region or item.when < oldest:
                continue
            if (start is not None and item.when < start) or (end is not None and item.when > end):
                continue
            if wanted is not None and not _trail_matches(item, *wanted):
                continue
            found.append(item)
        chunk = found[offset : offset + max_results]
        body: dict[str, Any] = {
            "Events": [
                {
                    "EventId": item.event_id,
                    "EventName": item.event.event,
                    "ReadOnly": str(item.event.event in _READ_EVENTS).lower(),
                    "AccessKeyId": item.actor_key,
                    "EventTime": _epoch(item.when),
                    "EventSource": item.event.source,
                    "Username": item.username,
                    "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in item.resources],
                    "CloudTrailEvent": item.record,
                }
                for item in chunk
            ]
        }
        if offset + max_results < len(found):
            body["NextToken"] = _encode_token(offset + max_results, "trail")
        return _json(200, body, "application/x-amz-json-1.1")

    # -- Account ------------------------------------------------------------------------------------

    def list_regions(self, state: _State, params: dict[str, Any]) -> Response:
        """account:ListRegions: every region of the partition, with its opt-in status in this account."""
        max_results = params.get("MaxResults", LIST_REGIONS_PAGE)
        if not isinstance(max_results, int) or not 1 <= max_results <= 50:
            return _rest_error(400, "ValidationException", "MaxResults must be between 1 and 50.")
        offset = _decode_token(params.get("NextToken"), "regions")
        if offset is None:
            return _rest_error(400, "ValidationException", "The NextToken is invalid.")
        wanted = params.get("RegionOptStatusContains") or []
        statuses = ("ENABLED", "ENABLING", "DISABLING", "DISABLED", "ENABLED_BY_DEFAULT")
        if not isinstance(wanted, list) or any(w not in statuses for w in wanted):
            return _rest_error(
                400, "ValidationException", f"RegionOptStatusContains must be of {', '.join(statuses)}."
            )
        rows = []
        for region in partition_regions():
            if region not in OPT_IN_REGIONS:
                status = "ENABLED_BY_DEFAULT"
            else:
                status = "ENABLED" if state.scenario.region_enabled(region) else "DISABLED"
            if not wanted or status in wanted:
                rows.append({"RegionName": region, "RegionOptStatus": status})
        body: dict[str, Any] = {"Regions": rows[offset : offset + max_results]}
        if offset + max_results < len(rows):
            body["NextToken"] = _encode_token(offset + max_results, "regions")
        return _json(200, body)

    # -- IAM and STS: a key not in this account --------------------------------------------------

    def get_access_key_last_used(self, state: _State, form: dict[str, str]) -> Response | None:
        """A key this account does not hold (deleted, another account's, never made): by default 403
        AccessDenied on the key as the resource (what real IAM is taken to answer: its API model lists no
        error for the operation); ``iam_answers: moto`` keeps moto's 404 NoSuchEntity. Known keys: moto."""
        from moto.iam.models import iam_backends

        key_id = form.get("AccessKeyId", "")
        known = iam_backends[LAB_ACCOUNT_ID]["global"].access_keys
        if state.scenario.iam_answers == "moto" or key_id in known:
            return None
        return _iam_error(
            403,
            "AccessDenied",
            f"User: {LAB_OPERATOR_ARN} is not authorized to perform: iam:GetAccessKeyLastUsed on resource: "
            f"access key {key_id}",
        )

    def get_access_key_info(self, state: _State, form: dict[str, str]) -> Response:
        """STS GetAccessKeyInfo: the account that owns a key id, deleted keys included (the scenario's
        ``foreign_keys`` name other accounts' keys; every other id is this account's)."""
        key_id = form.get("AccessKeyId", "")
        if not key_id:
            return _iam_error(400, "ValidationError", "1 validation error detected: AccessKeyId is required.")
        account = state.scenario.foreign_keys.get(key_id, LAB_ACCOUNT_ID)
        return _xml(
            200,
            f'<GetAccessKeyInfoResponse xmlns="{STS_XMLNS}"><GetAccessKeyInfoResult>'
            f"<Account>{account}</Account></GetAccessKeyInfoResult><ResponseMetadata>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></GetAccessKeyInfoResponse>",
        )

    # -- IAM ----------------------------------------------------------------------------------------

    def simulate_principal_policy(self, state: _State, form: dict[str, str]) -> Response:
        from moto.iam.models import iam_backends

        source = form.get("PolicySourceArn", "")
        actions = _members(form, "ActionNames")
        resources = _members(form, "ResourceArns") or ["*"]
        if not actions:
            return _iam_error(400, "InvalidInput", "ActionNames must contain at least one action.")
        prefix = f"arn:aws:iam::{LAB_ACCOUNT_ID}:user/"
        if not source.startswith(prefix):
            return _iam_error(
                400, "InvalidInput", f"Invalid ARN: {source} (the lab simulates IAM users only)."
            )
        name = source.rsplit("/", 1)[1]
        backend = iam_backends[LAB_ACCOUNT_ID]["global"]
        user = backend.users.get(name)
        if user is None:
            return _iam_error(404, "NoSuchEntity", f"The user with name {name} cannot be found.")
        policies: list[tuple[str, str, Any]] = [
            (n, "user", json.loads(doc)) for n, doc in user.policies.items()
        ]
        for arn, managed in user.managed_policies.items():
            default = next((v for v in managed.versions if v.is_default), None)
            if default is not None and default.document:
                kind = "aws-managed" if arn.startswith("arn:aws:iam::aws:") else "user-managed"
                document = (
                    default.document if isinstance(default.document, dict) else json.loads(default.document)
                )
                policies.append((managed.name, kind, document))
        context = _context(form)
        given = bool(_members(form, "ResourceArns"))
        results = [_evaluation_result(policies, action, resources, context, given) for action in actions]
        return _xml(
            200,
            f'<SimulatePrincipalPolicyResponse xmlns="{IAM_XMLNS}"><SimulatePrincipalPolicyResult>'
            f"<IsTruncated>false</IsTruncated><EvaluationResults>{''.join(results)}</EvaluationResults>"
            f"</SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
            "</ResponseMetadata></SimulatePrincipalPolicyResponse>",
        )


_RESTRICTIVE = {"explicitDeny": 0, "implicitDeny": 1, "allowed": 2}
_SES_IDENTITY_TEMPLATE = "arn:${Partition}:ses:${Region}:${Account}:identity/${IdentityName}"


def _statements_xml(matched: list[tuple[str, str]]) -> str:
    return "".join(
        f"<member><SourcePolicyId>{escape(pid)}</SourcePolicyId>"
        f"<SourcePolicyType>{kind}</SourcePolicyType></member>"
        for pid, kind in dict.fromkeys(matched)
    )


def _keys_xml(keys: list[str]) -> str:
    return "".join(f"<member>{escape(k)}</member>" for k in dict.fromkeys(keys))


def _evaluation_result(
    policies: list[tuple[str, str, Any]],
    action: str,
    resources: list[str],
    context: dict[str, list[str]],
    given: bool,
) -> str:
    """One EvaluationResult, as IAM answers today: one per action; with ResourceArns given, the decision
    on each resource in ResourceSpecificResults (with its MissingContextValues), and the top-level
    EvalDecision the most restrictive of them."""
    per = [(resource, *_evaluate(policies, action, resource, context)) for resource in resources]
    top = min((decision for _, decision, _, _ in per), key=_RESTRICTIVE.__getitem__)
    matched = [m for _, _, ms, _ in per for m in ms]
    missing = [k for _, _, _, ks in per for k in ks]
    specific = ""
    if given:
        members = "".join(
            "<member>"
            f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
            f"<EvalResourceDecision>{decision}</EvalResourceDecision>"
            f"<MatchedStatements>{_statements_xml(ms)}</MatchedStatements>"
            f"<MissingContextValues>{_keys_xml(ks)}</MissingContextValues>"
            "</member>"
            for resource, decision, ms, ks in per
        )
        specific = f"<ResourceSpecificResults>{members}</ResourceSpecificResults>"
    name = _SES_IDENTITY_TEMPLATE if given and action.lower().startswith("ses:") else "*"
    return (
        "<member>"
        f"<EvalActionName>{escape(action)}</EvalActionName>"
        f"<EvalResourceName>{escape(name)}</EvalResourceName>"
        f"<EvalDecision>{top}</EvalDecision>"
        f"<MatchedStatements>{_statements_xml(matched)}</MatchedStatements>"
        f"<MissingContextValues>{'' if given else _keys_xml(missing)}</MissingContextValues>"
        f"{specific}"
        "</member>"
    )


def _context(form: dict[str, str]) -> dict[str, list[str]]:
    """ContextEntries of a query-protocol request: key name (lower case, as IAM compares them) → values."""
    out: dict[str, list[str]] = {}
    index = 1
    while f"ContextEntries.member.{index}.ContextKeyName" in form:
        name = form[f"ContextEntries.member.{index}.ContextKeyName"].lower()
        out[name] = _members(form, f"ContextEntries.member.{index}.ContextKeyValues")
        index += 1
    return out


def _condition_holds(condition: Any, context: dict[str, list[str]], missing: list[str]) -> bool:
    """An IAM Condition block against the context: StringEquals, StringNotEquals, StringLike,
    StringNotLike, StringEqualsIgnoreCase, with ForAnyValue:/ForAllValues: and …IfExists. A key the
    context lacks is added to ``missing`` and fails its test (IfExists and ForAllValues: pass)."""
    if not isinstance(condition, dict):
        return True
    for operator, tests in condition.items():
        qualifier, _, op = str(operator).rpartition(":")
        if_exists = op.endswith("IfExists")
        op = op.removesuffix("IfExists")
        for key, wanted in (tests or {}).items():
            values = context.get(str(key).lower())
            if values is None:
                missing.append(str(key))
                if not (if_exists or qualifier == "ForAllValues"):
                    return False
                continue
            patterns = _listify(wanted)
            hits = [_string_test(op, value, patterns) for value in values]
            # ForAllValues: every value; ForAnyValue (and a single-valued key): any value
            if not (all(hits) if qualifier == "ForAllValues" else any(hits)):
                return False
    return True


def _string_test(op: str, value: str, patterns: list[str]) -> bool:
    """One value against a String… condition operator's patterns (an unknown operator never holds)."""
    if op in ("StringLike", "StringNotLike"):
        hit = _matches(patterns, value, case=True)
    elif op in ("StringEquals", "StringNotEquals"):
        hit = value in patterns
    elif op in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        hit = value.lower() in {p.lower() for p in patterns}
    else:
        return False
    return not hit if "Not" in op else hit


def _trail_matches(item: _Trail, key: str, value: str) -> bool:
    if key == "EventId":
        return item.event_id == value
    if key == "EventName":
        return item.event.event == value
    if key == "ReadOnly":
        return value == str(item.event.event in _READ_EVENTS).lower()
    if key == "Username":
        return item.username == value
    if key == "ResourceType":
        return any(t == value for t, _ in item.resources)
    if key == "ResourceName":
        return any(n == value for _, n in item.resources)
    if key == "EventSource":
        return value == item.event.source
    return item.actor_key == value  # AccessKeyId: the key that signed the call


def _listify(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _matches(patterns: list[str], value: str, *, case: bool) -> bool:
    if case:
        return any(fnmatch.fnmatchcase(value, p) for p in patterns)
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def _evaluate(
    policies: list[tuple[str, str, Any]],
    action: str,
    resource: str,
    context: dict[str, list[str]] | None = None,
) -> tuple[str, list[tuple[str, str]], list[str]]:
    """IAM's decision for one action on one resource: an explicit deny wins, then any allow, else implicit
    deny; with the matched statements and the context keys the policies needed and were not given.

    Conditions are evaluated against ``context`` (see :func:`_condition_holds`).
    """
    allows: list[tuple[str, str]] = []
    denies: list[tuple[str, str]] = []
    missing: list[str] = []
    for policy_id, kind, document in policies:
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, dict) else statements:
            if "Action" in statement:
                action_ok = _matches(_listify(statement["Action"]), action, case=False)
            else:
                action_ok = not _matches(_listify(statement.get("NotAction")), action, case=False)
            if "Resource" in statement:
                resource_ok = _matches(_listify(statement["Resource"]), resource, case=True)
            else:
                resource_ok = not _matches(_listify(statement.get("NotResource")), resource, case=True)
            if not (action_ok and resource_ok):
                continue
            if not _condition_holds(statement.get("Condition"), context or {}, missing):
                continue
            (denies if statement.get("Effect") == "Deny" else allows).append((policy_id, kind))
    if denies:
        return "explicitDeny", denies, missing
    if allows:
        return "allowed", allows, missing
    return "implicitDeny", [], missing


def _policy_document(policy: Policy) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": policy.effect,
        "Action": list(policy.actions),
        "Resource": policy.resource,
    }
    if policy.condition:
        statement["Condition"] = policy.condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def user_decision(user: User, action: str, resource: str, context: dict[str, list[str]]) -> str:
    """IAM's decision (``allowed``, ``explicitDeny``, ``implicitDeny``) for a scenario user's inline
    policies, conditions included: what SimulatePrincipalPolicy answers, for the lab's SMTP server."""
    policies = [(p.name, "user", _policy_document(p)) for p in user.policies]
    lowered = {key.lower(): values for key, values in context.items()}  # IAM compares key names so
    return _evaluate(policies, action, resource, lowered)[0]


def _members(form: dict[str, str], name: str) -> list[str]:
    """``Name.member.1``, ``Name.member.2`` … of a query-protocol request, in order."""
    prefix = f"{name}.member."
    numbered = [
        (int(k[len(prefix) :]), v)
        for k, v in form.items()
        if k.startswith(prefix) and k[len(prefix) :].isdigit()
    ]
    return [v for _, v in sorted(numbered)]


def _last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _page_size(value: Any, *, default: int, maximum: int) -> int | None:
    if value in (None, ""):
        return default
    try:
        size = int(value)
    except (TypeError, ValueError):
        return None
    return size if 1 <= size <= maximum else None


def _read_json(environ: WSGIEnvironment) -> dict[str, Any]:
    body = read_body(environ)
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------------------------------------
# moto seeding


def _reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def _seed_iam(scenario: Scenario, now: datetime) -> None:
    from moto.iam.models import AccessKey, AccessKeyLastUsed, iam_backends

    backend = iam_backends[LAB_ACCOUNT_ID]["global"]
    for user in scenario.iam.users:
        moto_user = backend.create_user(region_name=IAM_REGION, user_name=user.name)
        moto_user.id = "AIDA" + _b32("user", user.name, length=17)  # the same id CloudTrail shows
        created = [
            parse_when(e.time, now)
            for e in scenario.cloudtrail
            if e.event == "CreateUser" and e.user == user.name
        ]
        key_dates = [parse_when(k.created, now) for k in user.keys]
        if created:
            moto_user.create_date = _naive_utc(min(created))
        elif key_dates:
            moto_user.create_date = _naive_utc(min(key_dates) - timedelta(hours=1))
        else:
            moto_user.create_date = _naive_utc(now - timedelta(days=365))
        for policy in user.policies:
            backend.put_user_policy(user.name, policy.name, json.dumps(_policy_document(policy)))
        for key in user.keys:
            access_key = AccessKey(  # type: ignore[abstract]  # moto's CloudFormation base class
                user.name, prefix="AKIA", account_id=LAB_ACCOUNT_ID, status=key.status
            )
            access_key.access_key_id = key.id
            access_key.secret_access_key = key.secret
            access_key.create_date = _naive_utc(parse_when(key.created, now))
            if key.last_used is not None:
                access_key.last_used = AccessKeyLastUsed(
                    _naive_utc(parse_when(key.last_used, now)), key.last_used_service, key.last_used_region
                )
            moto_user.access_keys.append(access_key)
            backend.access_keys[access_key.access_key_id] = access_key


def _seed_events(scenario: Scenario) -> None:
    """The scenario's EventBridge rules, on each region's default event bus (moto serves ListRules)."""
    from moto.events.models import events_backends

    for rule in scenario.eventbridge:
        events_backends[LAB_ACCOUNT_ID][rule.region].put_rule(
            rule.name,
            description=rule.description or None,
            event_pattern=json.dumps(rule.pattern) if rule.pattern is not None else None,
            scheduled_expression=rule.schedule,
            state=rule.state,
        )


def _seed_cloudwatch(scenario: Scenario, now: datetime) -> None:
    """SES reputation metrics (account level, no dimensions) for the sending region and every region with
    an account entry: a datapoint every 30 minutes over the last six hours."""
    from moto.cloudwatch.models import cloudwatch_backends

    regions = dict.fromkeys([scenario.region, *scenario.account])
    for region in regions:
        account = scenario.account_in(region)
        try:
            backend = cloudwatch_backends[LAB_ACCOUNT_ID][region]
        except KeyError:  # a region moto does not know: it would refuse CloudWatch calls there anyway
            continue
        data = []
        for step in range(12):
            when = _naive_utc(now - timedelta(minutes=15 + 30 * step))
            data.append(
                {"MetricName": "Reputation.BounceRate", "Value": account.bounce_rate, "Timestamp": when}
            )
            data.append(
                {"MetricName": "Reputation.ComplaintRate", "Value": account.complaint_rate, "Timestamp": when}
            )
        backend.put_metric_data("AWS/SES", data)


# ---------------------------------------------------------------------------------------------------
# the server


class _Quiet:
    """Mixed into moto's request handler: no request logging on stdout/stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s: " + message, type, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _make_server(host: str, port: int, app: WSGIApplication) -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import ThreadedWSGIServer

    class Handler(_Quiet, MotoRequestHandler):
        pass

    class Server(ThreadedWSGIServer):
        """Tracks its connection threads so that stop() can cut in-flight connections and join their threads."""

        def __init__(self) -> None:
            self._conns: dict[threading.Thread, socket.socket] = {}
            self._conns_lock = threading.Lock()
            super().__init__(host, port, app, handler=Handler)

        def process_request(self, request: Any, client_address: Any) -> None:
            thread = threading.Thread(
                target=self._serve_connection,
                args=(request, client_address),
                name=f"lab-aws-{self.server_address[1]}-conn",
                daemon=True,
            )
            with self._conns_lock:
                self._conns[thread] = request
            thread.start()

        def _serve_connection(self, request: Any, client_address: Any) -> None:
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
                with self._conns_lock:
                    self._conns.pop(threading.current_thread(), None)

        def handle_error(self, request: Any, client_address: Any) -> None:
            log.debug("lab AWS endpoint: connection error from %s", client_address, exc_info=True)

        def close_connections(self) -> None:
            with self._conns_lock:
                conns = list(self._conns.items())
            for _, sock in conns:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            for thread, _ in conns:
                thread.join(timeout=5)

    return Server()


class LabAwsServer(Service):
    """The lab's AWS endpoint on loopback. ``start()``, ``load(scenario)``, point boto3 at ``endpoint_url``.

    moto keeps its state in module globals, so a process holds one scenario at a time: ``load()`` on
    any server resets moto for all of them. Run one ``LabAwsServer`` per process.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._app: _LabApp | None = None
        self._load_lock = threading.Lock()
        self._faults = AwsFaults()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the lab AWS endpoint is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def scenario(self) -> Scenario | None:
        state = self._app.state if self._app else None
        return state.scenario if state else None

    def start(self) -> None:
        if self._server is not None:
            return
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        moto_app = DomainDispatcherApplication(create_backend_app)
        self._app = _LabApp(moto_app)
        self._app.set_faults(self._faults)
        empty = Scenario(name="empty", description="no scenario loaded", expect="")
        self._app.state = _State(scenario=empty, now=scenario_now(), trail=())
        self._server = _make_server(self.host, self.port, self._app)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"lab-aws-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        if self._app is not None:
            self._app.stopping.set()
            self._app.released.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def load(self, scenario: Scenario, now: datetime | None = None) -> None:
        """Forget everything (moto's state included) and serve this scenario, times relative to ``now``."""
        if self._app is None:
            raise RuntimeError("start the lab AWS endpoint before loading a scenario")
        when = now or scenario_now()
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        with self._load_lock:
            _reset_moto()
            _seed_iam(scenario, when)
            _seed_events(scenario)
            _seed_cloudwatch(scenario, when)
            self._app.state = _State(scenario=scenario, now=when, trail=_build_trail(scenario, when))

    # -- faults and the operations record ----------------------------------------------------------

    @property
    def faults(self) -> AwsFaults:
        return self._faults

    def set_faults(self, faults: AwsFaults) -> None:
        """Answer from now on with these faults (``AwsFaults()``: none). ``down`` is not applied here:
        it is where clients are pointed (``Lab.env()``), since this server keeps listening."""
        self._faults = faults
        if self._app is not None:
            self._app.set_faults(faults)

    def operations(self) -> list[tuple[str, str, str]]:
        """Every request served since the last :meth:`clear_operations` (or the start), in order, as
        ``(service, operation, region)``: botocore's service name (``sesv2``, ``iam``, ``sts``,
        ``cloudwatch``, ``cloudtrail`` ...), the API operation (``GetEmailIdentity``) and the region of the
        request's credential scope. Requests answered by a fault are included; a request whose operation
        could not be told has ``""`` there (and the credential scope's service name)."""
        if self._app is None:
            return []
        with self._app.operations_lock:
            return list(self._app.operations)

    def clear_operations(self) -> None:
        if self._app is not None:
            with self._app.operations_lock:
                self._app.operations.clear()

    def calls(self) -> list[AwsCall]:
        """Every request answered since the last :meth:`clear_calls` (or the start), timed, in the order
        their answers were ready. Kept apart from :meth:`operations`: clearing one leaves the other."""
        if self._app is None:
            return []
        with self._app.operations_lock:
            return list(self._app.calls)

    def clear_calls(self) -> None:
        if self._app is not None:
            with self._app.operations_lock:
                self._app.calls.clear()
