"""boto3, wrapped once: every call runs in a thread with real timeouts, at a pace AWS accepts (throttled
calls are retried in their slot, :mod:`maildoctor.clients.pace`), the walk's reads of things that do not
change under it made once, and a failure comes back as an AwsError that says what went wrong the way the
operator has to act on it: a missing permission, an organisation's deny, a region not enabled."""

from __future__ import annotations

import asyncio
import copy
import functools
import random
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from maildoctor.clients import credentials
from maildoctor.clients.pace import Pace, Rank, current_rank, priority

# boto3 and botocore cost ~200 ms to import: they are imported where a client is built or a call made,
# so that loading flows and checks (`flows list`, `checks`, a walk with no AWS step) never pays for them.
if TYPE_CHECKING:
    import boto3
    import botocore.session
    from botocore.config import Config

# The IAM action prefix of each service (SES v2 actions are "ses:...").
ACTION_PREFIX = {"sesv2": "ses", "ses": "ses", "iam": "iam", "cloudtrail": "cloudtrail", "cloudwatch": "cloudwatch",
                 "sts": "sts", "account": "account"}  # fmt: skip
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
                 "InvalidClientTokenId", "AuthFailure"}  # fmt: skip
# A region not enabled in the account answers these (so do credentials that are not valid at all).
TOKEN_REFUSED = {"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure", "OptInRequired"}
THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
             "TooManyRequests", "ThrottledException", "SlowDown"}  # fmt: skip
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
TRANSIENT = {"InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable", "ServiceFailure",
             "ServiceUnavailableException", "InternalServiceError", "ConnectionClosedError"}  # fmt: skip
NOT_FOUND = {"NotFoundException", "NoSuchEntity"}
NO_CREDENTIALS = "NoCredentials"
# IAM and STS are global; CloudTrail records IAM calls in us-east-1 only (in each partition's own region).
GLOBAL_REGION = "us-east-1"
GLOBAL_REGIONS = {"aws": "us-east-1", "aws-us-gov": "us-gov-west-1", "aws-cn": "cn-north-1"}
ENABLED_STATUSES = (
    "ENABLED",
    "ENABLED_BY_DEFAULT",
)  # account:ListRegions' RegionOptStatus of a usable region

# Read-only by construction: the only AWS operations maildoctor makes (botocore service -> API names),
# exactly those the checks call, each a read. `AwsClient.call` refuses any other before anything is
# resolved, built or sent. A check that needs a new read adds it here and to its spec's iam_actions
# (tests/flows/test_read_only.py holds the two lists equal).
READ_OPERATIONS: dict[str, frozenset[str]] = {
    "sesv2": frozenset(
        {
            "GetAccount",
            "GetEmailIdentity",
            "GetSuppressedDestination",
            "GetConfigurationSet",
            "ListRecommendations",
            "ListEmailIdentities",
        }
    ),
    "iam": frozenset(
        {"GetUser", "ListAccessKeys", "GetAccessKeyLastUsed", "SimulatePrincipalPolicy", "ListUsers"}
    ),
    "cloudtrail": frozenset({"LookupEvents"}),
    "events": frozenset({"ListRules"}),
    "cloudwatch": frozenset({"GetMetricStatistics"}),
    "sts": frozenset({"GetCallerIdentity", "GetAccessKeyInfo"}),
    "account": frozenset({"ListRegions"}),
}
# Reads whose answer does not change during a walk: made once per walk (``AwsClient.forget`` starts over).
MEMO_OPERATIONS = {("sesv2", "GetEmailIdentity"), ("sesv2", "GetAccount"), ("sesv2", "GetConfigurationSet"),
                   ("sts", "GetCallerIdentity"), ("account", "ListRegions")}  # fmt: skip


def action_of(service: str, operation: str) -> str:
    """The IAM action an operation needs: ``sesv2``/``GetAccount`` -> ``ses:GetAccount``."""
    return f"{ACTION_PREFIX.get(service, service)}:{operation}"


def allowed_actions() -> set[str]:
    """The IAM actions of every allowed operation."""
    return {action_of(s, op) for s, ops in READ_OPERATIONS.items() for op in ops}


class NotReadOnly(Exception):
    """An AWS operation that is not on the read allow-list: refused, never sent."""

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(
            f"refused {service} {operation}: maildoctor only makes the read operations on its allow-list "
            "(maildoctor/clients/aws.py READ_OPERATIONS)"
        )
        self.service = service
        self.operation = operation


@dataclass
class AwsError(Exception):
    """An AWS call that failed: ``code`` is AWS's error code (or a transport failure's name)."""

    service: str
    operation: str
    code: str
    message: str
    region: str

    @property
    def action(self) -> str:
        return f"{ACTION_PREFIX.get(self.service, self.service)}:{self.operation}"

    @property
    def access_denied(self) -> bool:
        return self.code in ACCESS_DENIED

    @property
    def kind(self) -> str:
        """What the operator does about it: throttled, token-refused (region not enabled, or credentials
        not valid), explicit-deny (an organisation's SCP, a boundary or a deny statement: no policy of
        theirs can add it), missing-permission, expired-credentials, not-found, no-credentials, other."""
        if self.code == NO_CREDENTIALS:
            return "no-credentials"
        if self.code in THROTTLED:
            return "throttled"
        if self.code in TOKEN_REFUSED:
            return "token-refused"
        if self.code in EXPIRED:
            return "expired-credentials"
        if self.code in NOT_FOUND:
            return "not-found"
        if self.code in ACCESS_DENIED:
            return "explicit-deny" if "explicit deny" in self.message.lower() else "missing-permission"
        return "other"

    @property
    def denied_by(self) -> str:
        """Where an explicit deny is, as AWS says it ("a service control policy"), or ""."""
        match = re.search(r"with an explicit deny in (?:an? )?([\w -]+)", self.message, re.IGNORECASE)
        return match.group(1).strip() if match else ""

    def __str__(self) -> str:
        kind = self.kind
        if kind == "no-credentials":  # one cause for every AWS step, said the same way
            return self.message
        if kind == "missing-permission":
            return f"not allowed to call {self.action} in {self.region} ({self.code}): add it to the policy (`maildoctor iam-policy`)"
        if kind == "explicit-deny":
            where = self.denied_by or "a policy"
            return (
                f"{self.action} in {self.region} is denied by an explicit deny in {where} ({self.code}): "
                "no allow can override it; ask whoever runs the organisation's policies (an SCP limiting "
                "regions or services is the usual cause)"
            )
        if kind == "token-refused":
            return (
                f"{self.action} in {self.region}: the security token was refused ({self.code}): the region "
                "is not enabled in this account, or the credentials are not valid"
            )
        if kind == "expired-credentials":
            return (
                f"{self.action} in {self.region}: the credentials have expired ({self.code}): refresh them "
                "(e.g. `aws sso login --profile NAME`) and walk again"
            )
        return f"{self.action} in {self.region} failed: {self.code}: {self.message}"


@dataclass(frozen=True)
class Caller:
    """Who the credentials are (sts:GetCallerIdentity)."""

    account: str
    arn: str

    @property
    def partition(self) -> str:
        parts = self.arn.split(":")
        return parts[1] if len(parts) > 1 and parts[1] else "aws"


@dataclass(frozen=True)
class RegionSet:
    """The SES regions to sweep: those of the partition that the account has enabled."""

    enabled: tuple[str, ...]
    disabled: tuple[str, ...]
    source: str  # "account:ListRegions", or what was used when it could not be read
    known: bool  # True when account:ListRegions answered

    def note(self, listing: bool = True) -> str | None:
        """One line on the regions left out (None when none): with their names for evidence, without
        for a summary."""
        if not self.disabled:
            return None
        count = len(self.disabled)
        names = f" ({', '.join(self.disabled)})" if listing else ""
        return f"{count} region{'s' if count != 1 else ''} not enabled in this account: not checked{names}"


# boto3 clients, shared by every walk of the process (a re-run, the next walk in the TUI, a test run):
# building one costs ~50 ms of CPU, and a suppression sweep needs one per region. They are thread-safe,
# and keyed by the very session (credentials resolve once per process and environment) and settings.
_SHARED: dict[tuple[Any, ...], tuple[boto3.Session, Any]] = {}
# boto3 calls block a thread each while they wait on the network. asyncio's default pool has cores + 4
# threads (6 here), which made a 33-region sweep wait in six rounds: this one fits a sweep and the
# checks running beside it at once.
_CALLS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="maildoctor-aws")
_SHARED_LOCK = threading.Lock()


def _shared_client(
    session: boto3.Session, service: str, region: str, endpoint_url: str | None, config: Config
) -> Any:
    key = (id(session), service, region, endpoint_url, config.connect_timeout, config.read_timeout)
    with _SHARED_LOCK:
        kept = _SHARED.get(key)
        if kept is None or kept[0] is not session:  # the session is held too, so its id is not reused
            kept = _SHARED[key] = (
                session,
                session.client(service, region_name=region, endpoint_url=endpoint_url, config=config),
            )
        return kept[1]


# botocore's endpoint data, read once: a new session reads it again (~50 ms), and the global region is
# needed on every IAM and CloudTrail call.
@functools.cache
def _endpoint_data() -> botocore.session.Session:
    import botocore.session

    return botocore.session.Session()


@functools.cache
def partition_of(region: str) -> str:
    """The partition of a region (aws, aws-us-gov, aws-cn); the commercial one for a region botocore
    does not know."""
    try:
        return str(_endpoint_data().get_partition_for_region(region))
    except Exception:
        return "aws"


@functools.cache
def ses_regions_of(partition: str) -> tuple[str, ...]:
    """Every region of the partition where SES v2 runs (no network)."""
    return tuple(sorted(_endpoint_data().get_available_regions("sesv2", partition_name=partition)))


class AwsClient:
    def __init__(
        self,
        *,
        profile: str | None,
        region: str | None,
        endpoint_url: str | None,
        timeout: float,
    ) -> None:
        from botocore.config import Config

        self.region = region or GLOBAL_REGION
        self.endpoint_url = endpoint_url
        self._profile = profile
        # botocore sends each request once: retries are made here, where they can wait for a pace slot.
        self._config = Config(
            connect_timeout=min(timeout, 5.0),
            read_timeout=timeout,
            retries={"total_max_attempts": 1},
            max_pool_connections=32,
        )
        self._session: boto3.Session | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        # An endpoint that has never answered and then times out (or refuses) is taken for dead: later
        # calls to it fail at once with that cause, so an AWS outage costs the walk one timeout.
        self._answered: set[str] = set()
        self._dead: dict[str, tuple[str, str]] = {}  # endpoint → (error code, message)
        self._paces: dict[tuple[str, str], Pace] = {}
        self._memo: dict[tuple[Any, ...], asyncio.Future[dict[str, Any] | AwsError]] = {}
        self._memo_rank: dict[tuple[Any, ...], Rank] = {}  # the rank a memoized read waits for SES with
        self._memo_loop: asyncio.AbstractEventLoop | None = None

    @property
    def partition(self) -> str:
        """The partition of the client's region (aws, aws-us-gov, aws-cn), from botocore's data."""
        return partition_of(self.region)

    @property
    def global_region(self) -> str:
        """Where IAM, STS and IAM's CloudTrail events are called in this partition."""
        return GLOBAL_REGIONS.get(self.partition, GLOBAL_REGION)

    def forget(self) -> None:
        """Read everything afresh from now on (a re-run after the operator changed something), and learn
        the pace again."""
        self._memo.clear()
        self._paces.clear()

    def _endpoint(self, service: str, region: str) -> str:
        return self.endpoint_url or f"{service}.{region}"

    def _client(self, service: str, region: str) -> Any:
        # boto3 sessions are not thread-safe to create clients from: build them under a lock, once.
        with self._lock:
            if self._session is None:
                self._session = credentials.resolve(self._profile).session
                assert self._session is not None, "call() refuses to run without credentials"
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = _shared_client(
                    self._session, service, region, self.endpoint_url, self._config
                )
            return self._clients[key]

    def _pace(self, service: str, region: str) -> Pace:
        family = ACTION_PREFIX.get(service, service)
        pace = self._paces.get((family, region))
        if pace is None:
            pace = self._paces[(family, region)] = Pace(family)
        return pace

    async def call(
        self, service: str, operation: str, *, region: str | None = None, **params: Any
    ) -> dict[str, Any]:
        """Call ``operation`` (the API name, e.g. GetEmailIdentity) in a thread; raise AwsError on failure.

        Raises NotReadOnly, before anything else, for an operation not on ``READ_OPERATIONS``. A read on
        ``MEMO_OPERATIONS`` is made once per walk (its answer, or its NotFound, is shared)."""
        if operation not in READ_OPERATIONS.get(service, frozenset()):
            raise NotReadOnly(service, operation)
        region = region or self.region
        if (service, operation) not in MEMO_OPERATIONS:
            return await self._paced(service, operation, region, params)
        loop = asyncio.get_running_loop()
        if self._memo_loop is not loop:  # futures belong to one event loop
            self._memo_loop, self._memo = loop, {}
        key = (service, operation, region, repr(sorted(params.items())))
        while True:
            future = self._memo.get(key)
            if future is None:
                return copy.deepcopy(await self._first_read(key, service, operation, region, params))
            if not future.done() and key in self._memo_rank:  # the read waits for a slot: as soon as we
                self._memo_rank[key].lower(current_rank())
            try:
                answer = await asyncio.shield(future)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if future.cancelled() and not (task and task.cancelling()):
                    continue  # the call it waited on was cancelled, not this one: ask again
                raise
            if isinstance(answer, AwsError):
                raise answer
            return copy.deepcopy(answer)

    async def _first_read(
        self, key: tuple[Any, ...], service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Make a memoized read, sharing its answer (or its NotFound, or, with callers already waiting,
        its error) through the memo's future."""
        future: asyncio.Future[dict[str, Any] | AwsError] = asyncio.get_running_loop().create_future()
        self._memo[key] = future

        def drop() -> None:  # unless forget() (a re-run) has already put another read in its place
            if self._memo.get(key) is future:
                del self._memo[key]

        rank = self._memo_rank[key] = Rank(current_rank())  # lowered by every caller that joins
        try:
            with priority(rank):
                answer = await self._paced(service, operation, region, params)
        except AwsError as exc:
            future.set_result(exc)  # those waiting now get the same answer
            if exc.kind != "not-found":  # not an answer about the thing: later callers ask again
                drop()
            raise
        except BaseException:
            drop()
            future.cancel()
            raise
        future.set_result(answer)
        return answer

    async def _paced(
        self, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """One call, in its pace's slot; sent again while it is throttled (until the pace is stuck) and
        once after a transient server error."""
        pace = self._pace(service, region)
        transient_retried = False
        while True:
            if pace.refuses():
                raise AwsError(service, operation, pace.last_code, self._outage(pace, region), region)
            paced = await pace.slot()
            try:
                answer = await self._send(service, operation, region, params)
            except AwsError as exc:
                if exc.kind == "throttled":
                    pace.throttled(paced, exc.code)
                    if pace.refuses():
                        exc.message += f" ({self._outage(pace, region)})"
                        raise
                    continue
                if exc.code in TRANSIENT and not transient_retried:
                    transient_retried = True
                    await asyncio.sleep(random.uniform(0.1, 0.5))  # as botocore's standard mode would
                    continue
                pace.answered()  # the service is not throttling
                raise
            pace.answered()
            return answer

    @staticmethod
    def _outage(pace: Pace, region: str) -> str:
        return (
            f"throttled {pace.in_a_row} times in a row at {pace.rate:g} call/s in {region}, AWS's own rate: "
            "an outage or another client using up the quota, not tried again for now"
        )

    async def _send(
        self, service: str, operation: str, region: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        import botocore.exceptions

        snake = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
        problem = credentials.resolve(self._profile).problem  # resolved up front by the CLI
        if problem is not None:
            raise AwsError(service, operation, NO_CREDENTIALS, problem, region)

        endpoint = self._endpoint(service, region)
        if endpoint in self._dead and endpoint not in self._answered:
            code, message = self._dead[endpoint]
            said = f"{message} (an earlier call got no answer: not tried again)"
            raise AwsError(service, operation, code, said, region)

        def run() -> dict[str, Any]:
            result: dict[str, Any] = getattr(self._client(service, region), snake)(**params)
            result.pop("ResponseMetadata", None)
            return result

        try:
            answer = await asyncio.get_running_loop().run_in_executor(_CALLS, run)
            self._answered.add(endpoint)
            return answer
        except botocore.exceptions.ClientError as exc:
            self._answered.add(endpoint)
            error = exc.response.get("Error", {})
            raise AwsError(
                service, operation, error.get("Code", "Unknown"), error.get("Message", str(exc)), region
            ) from None
        except botocore.exceptions.NoCredentialsError:
            raise AwsError(
                service,
                operation,
                "NoCredentials",
                "no AWS credentials found (set AWS_PROFILE or keys)",
                region,
            ) from None
        except botocore.exceptions.ProfileNotFound as exc:
            raise AwsError(service, operation, "ProfileNotFound", str(exc), region) from None
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError) as exc:  # fmt: skip
            self._dead.setdefault(endpoint, (type(exc).__name__, str(exc)))
            raise AwsError(service, operation, type(exc).__name__, str(exc), region) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise AwsError(service, operation, type(exc).__name__, str(exc), region) from None

    async def caller(self) -> Caller:
        """Who the credentials are: sts:GetCallerIdentity, once per walk."""
        answer = await self.call("sts", "GetCallerIdentity", region=self.global_region)
        return Caller(account=str(answer.get("Account", "")), arn=str(answer.get("Arn", "")))

    def known_ses_regions(self, partition: str | None = None) -> list[str]:
        """Every region of the partition where SES v2 runs, from botocore's own endpoint data (no network)."""
        return list(ses_regions_of(partition or self.partition))

    async def ses_regions(self) -> RegionSet:
        """The SES regions the account has enabled (account:ListRegions), or every SES region of the
        partition when that cannot be read (``known`` False: the caller then tells a region that refuses
        the security token from one that fails)."""
        known = self.known_ses_regions()
        try:
            statuses = await self._region_statuses()
        except AwsError as exc:
            return RegionSet(
                tuple(known), (), f"botocore's endpoint data (account:ListRegions: {exc})", False
            )
        # a region ListRegions does not list (newer than its answer) is tried, not assumed off
        enabled = tuple(r for r in known if statuses.get(r, "ENABLED") in ENABLED_STATUSES)
        disabled = tuple(r for r in known if r not in enabled)
        return RegionSet(enabled, disabled, "account:ListRegions", True)

    async def _region_statuses(self) -> dict[str, str]:
        statuses: dict[str, str] = {}
        token: str | None = None
        for _ in range(20):  # a partition has a few dozen regions: 50 a page
            params: dict[str, Any] = {"MaxResults": 50, **({"NextToken": token} if token else {})}
            page = await self.call("account", "ListRegions", region=self.global_region, **params)
            for item in page.get("Regions", []):
                statuses[str(item.get("RegionName"))] = str(item.get("RegionOptStatus"))
            token = page.get("NextToken")
            if not token:
                break
        return statuses
