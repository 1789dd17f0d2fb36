"""boto3, wrapped once: every call runs in a thread with real timeouts and standard retries, and a
failure comes back as an AwsError that says which permission was missing or what went wrong."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from maildoctor.clients import credentials

# The IAM action prefix of each service (SES v2 actions are "ses:...").
ACTION_PREFIX = {"sesv2": "ses", "ses": "ses", "iam": "iam", "cloudtrail": "cloudtrail", "cloudwatch": "cloudwatch",
                 "sts": "sts"}  # fmt: skip
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
                 "InvalidClientTokenId", "AuthFailure"}  # fmt: skip
NO_CREDENTIALS = "NoCredentials"
# IAM and STS are global; CloudTrail records IAM calls in us-east-1 only.
GLOBAL_REGION = "us-east-1"

# Read-only by construction: the only AWS operations maildoctor makes (botocore service -> API names),
# exactly those the checks call, each a read. `AwsClient.call` refuses any other before anything is
# resolved, built or sent. A check that needs a new read adds it here and to its spec's iam_actions
# (tests/flows/test_read_only.py holds the two lists equal).
READ_OPERATIONS: dict[str, frozenset[str]] = {
    "sesv2": frozenset({"GetAccount", "GetEmailIdentity", "GetSuppressedDestination"}),
    "iam": frozenset({"GetUser", "ListAccessKeys", "GetAccessKeyLastUsed", "SimulatePrincipalPolicy"}),
    "cloudtrail": frozenset({"LookupEvents"}),
    "cloudwatch": frozenset({"GetMetricStatistics"}),
    "sts": frozenset({"GetCallerIdentity", "GetAccessKeyInfo"}),
}


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

    def __str__(self) -> str:
        if self.code == NO_CREDENTIALS:  # one cause for every AWS step, said the same way
            return self.message
        if self.access_denied:
            return f"not allowed to call {self.action} in {self.region} ({self.code}): add it to the policy (`maildoctor iam-policy`)"
        return f"{self.action} in {self.region} failed: {self.code}: {self.message}"


class AwsClient:
    def __init__(
        self,
        *,
        profile: str | None,
        region: str | None,
        endpoint_url: str | None,
        timeout: float,
    ) -> None:
        self.region = region or GLOBAL_REGION
        self.endpoint_url = endpoint_url
        self._profile = profile
        self._config = Config(
            connect_timeout=min(timeout, 5.0),
            read_timeout=timeout,
            retries={"mode": "standard", "max_attempts": 2},
            max_pool_connections=32,
        )
        self._session: boto3.Session | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        # An endpoint that has never answered and then times out (or refuses) is taken for dead: later
        # calls to it fail at once with that cause, so an AWS outage costs the walk one timeout.
        self._answered: set[str] = set()
        self._dead: dict[str, tuple[str, str]] = {}  # endpoint → (error code, message)

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
                self._clients[key] = self._session.client(
                    service, region_name=region, endpoint_url=self.endpoint_url, config=self._config
                )
            return self._clients[key]

    async def call(
        self, service: str, operation: str, *, region: str | None = None, **params: Any
    ) -> dict[str, Any]:
        """Call ``operation`` (the API name, e.g. GetEmailIdentity) in a thread; raise AwsError on failure.

        Raises NotReadOnly, before anything else, for an operation not on ``READ_OPERATIONS``."""
        if operation not in READ_OPERATIONS.get(service, frozenset()):
            raise NotReadOnly(service, operation)
        region = region or self.region
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
            answer = await asyncio.to_thread(run)
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

    def ses_regions(self) -> list[str]:
        """Every commercial region where SES v2 runs, from botocore's own endpoint data (no network)."""
        return sorted(boto3.Session().get_available_regions("sesv2"))
