"""The lab's AWS endpoint, exercised with boto3 over real HTTP on loopback (no mocking)."""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from maildoctor.lab.aws import LabAwsServer
from maildoctor.lab.scenario import Scenario

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
NEW_KEY = "AKIAEXAMPLENEW000001"
OLD_KEY = "AKIAEXAMPLEOLD000002"
GONE_KEY = "AKIAEXAMPLEDEL000003"
TOKENS = [
    "p3rzrb6c2iy3zyx6g7q5kt7hbqkbxacw",
    "4hzvskkzwzvswf3dwa6c5ujkwgcxyi3o",
    "ivl7ys2rjuqxlmkfa4e2yf7g3ejbfgtw",
]

SCENARIO: dict[str, Any] = {
    "name": "aws-lab-test",
    "description": "a small world for the AWS endpoint tests",
    "expect": "ok",
    "regions": ["us-east-1", "us-west-2"],
    "account": {
        "us-east-1": {"bounce_rate": 0.062, "complaint_rate": 0.0008},
        "us-west-2": {"production_access": False, "max_24h_send": 200, "max_send_rate": 1},
        "eu-west-1": {"sending_enabled": False},
        "ap-southeast-2": {"enforcement": "PROBATION", "review_status": "PENDING"},
    },
    "identities": {
        "us-east-1": [
            {
                "identity": "example.com",
                "dkim": {"tokens": TOKENS},
                "mail_from": {
                    "domain": "mail.example.com",
                    "status": "FAILED",
                    "behavior_on_mx_failure": "REJECT_MESSAGE",
                },
            },
            {"identity": "admin@example.com"},
            {
                "identity": "pending.example.org",
                "verification": "PENDING",
                "dkim": {"status": "PENDING", "tokens": ["aaaa", "bbbb", "cccc"]},
            },
        ],
        "us-west-2": [{"identity": "west.example.net"}],
    },
    "suppression": {
        "us-east-1": [
            {"address": "ceo@client.example", "reason": "BOUNCE", "time": "-2d"},
            {"address": "angry@client.example", "reason": "COMPLAINT", "time": "-5h"},
            {"address": "old@client.example", "time": "-20d"},
        ]
    },
    "iam": {
        "users": [
            {
                "name": "ses-smtp-user",
                "policies": [{"name": "AmazonSesSendingAccess", "actions": ["ses:SendRawEmail"]}],
                "keys": [
                    {
                        "id": NEW_KEY,
                        "secret": "n" * 40,
                        "created": "-72h",
                        "last_used": "-2h",
                        "last_used_service": "ses",
                        "last_used_region": "us-east-1",
                    },
                    {"id": OLD_KEY, "secret": "o" * 40, "status": "Inactive", "created": "-400d"},
                ],
            },
            {
                "name": "auditor",
                "policies": [
                    {"name": "everything", "actions": ["*"]},
                    {"name": "no-mail", "actions": ["ses:*"], "effect": "Deny"},
                ],
            },
        ]
    },
    "cloudtrail": [
        {"event": "CreateUser", "time": "-400d", "actor": "alice", "user": "ses-smtp-user"},
        {
            "event": "CreateAccessKey",
            "time": "-60d",
            "actor": "alice",
            "user": "ses-smtp-user",
            "key": GONE_KEY,
        },
        {"event": "PutUserPolicy", "time": "-10d", "actor": "ops-admin/bob", "user": "ses-smtp-user"},
        {
            "event": "CreateAccessKey",
            "time": "-72h",
            "actor": "alice",
            "user": "ses-smtp-user",
            "key": NEW_KEY,
        },
        {
            "event": "UpdateAccessKey",
            "time": "-71h",
            "actor": "alice",
            "user": "ses-smtp-user",
            "key": OLD_KEY,
            "status": "Inactive",
        },
        {
            "event": "DeleteAccessKey",
            "time": "-70h",
            "actor": "alice",
            "user": "ses-smtp-user",
            "key": GONE_KEY,
        },
    ],
}

OTHER: dict[str, Any] = {
    "name": "other",
    "description": "a second world, to see that load() replaces the first",
    "expect": "ok",
    "identities": {"us-east-1": [{"identity": "other.example"}]},
}


@pytest.fixture(scope="module")
def server() -> Iterator[LabAwsServer]:
    with LabAwsServer() as lab:
        yield lab


@pytest.fixture
def lab(server: LabAwsServer) -> LabAwsServer:
    server.load(Scenario.model_validate(SCENARIO), now=NOW)
    return server


def client(lab: LabAwsServer, service: str, region: str = "us-east-1", key: str = "testing") -> Any:
    return _client(lab.endpoint_url, service, region, key)


@functools.cache
def _session(key: str, region: str) -> boto3.Session:
    return boto3.Session(aws_access_key_id=key, aws_secret_access_key="testing", region_name=region)


@functools.cache
def _client(endpoint_url: str, service: str, region: str, key: str) -> Any:
    """Clients are cached (making one costs a tenth of a second); the endpoint is the same all module long."""
    config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 1})
    return _session(key, region).client(service, endpoint_url=endpoint_url, config=config)


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response: Any = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


# -- SES v2 identities -----------------------------------------------------------------------------


def test_verified_domain_identity_has_dkim_and_mail_from(lab: LabAwsServer) -> None:
    identity = client(lab, "sesv2").get_email_identity(EmailIdentity="example.com")
    assert identity["IdentityType"] == "DOMAIN"
    assert identity["VerificationStatus"] == "SUCCESS"
    assert identity["VerifiedForSendingStatus"] is True
    assert identity["FeedbackForwardingStatus"] is True
    dkim = identity["DkimAttributes"]
    assert dkim["SigningEnabled"] is True
    assert dkim["Status"] == "SUCCESS"
    assert dkim["Tokens"] == TOKENS
    assert dkim["SigningAttributesOrigin"] == "AWS_SES"
    assert dkim["CurrentSigningKeyLength"] == "RSA_2048_BIT"
    assert dkim["LastKeyGenerationTimestamp"] < NOW
    assert identity["MailFromAttributes"] == {
        "MailFromDomain": "mail.example.com",
        "MailFromDomainStatus": "FAILED",
        "BehaviorOnMxFailure": "REJECT_MESSAGE",
    }
    assert identity["Policies"] == {}
    assert identity["Tags"] == []
    assert "ConfigurationSetName" not in identity


def test_unverified_domain_identity(lab: LabAwsServer) -> None:
    identity = client(lab, "sesv2").get_email_identity(EmailIdentity="pending.example.org")
    assert identity["VerificationStatus"] == "PENDING"
    assert identity["VerifiedForSendingStatus"] is False
    assert identity["DkimAttributes"]["Status"] == "PENDING"
    assert identity["DkimAttributes"]["Tokens"] == ["aaaa", "bbbb", "cccc"]
    # no custom MAIL FROM domain: SES reports only the MX-failure behaviour
    assert identity["MailFromAttributes"] == {"BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}


def test_address_identity_reports_the_dkim_of_its_domain(lab: LabAwsServer) -> None:
    identity = client(lab, "sesv2").get_email_identity(EmailIdentity="admin@example.com")
    assert identity["IdentityType"] == "EMAIL_ADDRESS"
    assert identity["VerifiedForSendingStatus"] is True
    assert identity["DkimAttributes"]["Status"] == "SUCCESS"
    assert identity["DkimAttributes"]["Tokens"] == TOKENS


def test_unknown_identity_is_not_found(lab: LabAwsServer) -> None:
    ses = client(lab, "sesv2")
    with pytest.raises(ClientError) as exc:
        ses.get_email_identity(EmailIdentity="nobody@unknown.example")
    assert error_of(exc) == (
        404,
        "NotFoundException",
        "Email identity nobody@unknown.example does not exist.",
    )
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.get_email_identity(EmailIdentity="unknown.example")


def test_identities_are_per_region(lab: LabAwsServer) -> None:
    west = client(lab, "sesv2", region="us-west-2")
    assert west.get_email_identity(EmailIdentity="west.example.net")["VerificationStatus"] == "SUCCESS"
    with pytest.raises(west.exceptions.NotFoundException):
        west.get_email_identity(EmailIdentity="example.com")
    with pytest.raises(ClientError) as exc:
        client(lab, "sesv2").get_email_identity(EmailIdentity="west.example.net")
    assert error_of(exc)[1] == "NotFoundException"


def test_list_email_identities_pages(lab: LabAwsServer) -> None:
    ses = client(lab, "sesv2")
    first = ses.list_email_identities(PageSize=2)
    assert first["EmailIdentities"] == [
        {
            "IdentityType": "DOMAIN",
            "IdentityName": "example.com",
            "SendingEnabled": True,
            "VerificationStatus": "SUCCESS",
        },
        {
            "IdentityType": "EMAIL_ADDRESS",
            "IdentityName": "admin@example.com",
            "SendingEnabled": True,
            "VerificationStatus": "SUCCESS",
        },
    ]
    second = ses.list_email_identities(PageSize=2, NextToken=first["NextToken"])
    assert second["EmailIdentities"] == [
        {
            "IdentityType": "DOMAIN",
            "IdentityName": "pending.example.org",
            "SendingEnabled": False,
            "VerificationStatus": "PENDING",
        }
    ]
    assert "NextToken" not in second
    west = client(lab, "sesv2", region="us-west-2").list_email_identities()
    assert [i["IdentityName"] for i in west["EmailIdentities"]] == ["west.example.net"]


# -- SES v2 account --------------------------------------------------------------------------------


def test_account_healthy_production(lab: LabAwsServer) -> None:
    account = client(lab, "sesv2").get_account()
    assert account["ProductionAccessEnabled"] is True
    assert account["SendingEnabled"] is True
    assert account["EnforcementStatus"] == "HEALTHY"
    assert account["DedicatedIpAutoWarmupEnabled"] is False
    assert account["SendQuota"] == {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 0.0}
    assert account["SuppressionAttributes"] == {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]}
    assert "Details" not in account


def test_account_in_sandbox(lab: LabAwsServer) -> None:
    account = client(lab, "sesv2", region="us-west-2").get_account()
    assert account["ProductionAccessEnabled"] is False
    assert account["SendQuota"]["Max24HourSend"] == 200.0
    assert account["SendQuota"]["MaxSendRate"] == 1.0


def test_account_sending_paused(lab: LabAwsServer) -> None:
    account = client(lab, "sesv2", region="eu-west-1").get_account()
    assert account["SendingEnabled"] is False
    assert account["ProductionAccessEnabled"] is True


def test_account_on_probation_with_review_details(lab: LabAwsServer) -> None:
    account = client(lab, "sesv2", region="ap-southeast-2").get_account()
    assert account["EnforcementStatus"] == "PROBATION"
    details = account["Details"]
    assert details["ReviewDetails"]["Status"] == "PENDING"
    assert details["ReviewDetails"]["CaseId"].isdigit()
    assert details["MailType"] == "TRANSACTIONAL"
    assert details["ContactLanguage"] == "EN"
    assert details["WebsiteURL"].startswith("https://")


# -- SES v2 suppression ----------------------------------------------------------------------------


def test_suppressed_destination(lab: LabAwsServer) -> None:
    entry = client(lab, "sesv2").get_suppressed_destination(EmailAddress="ceo@client.example")[
        "SuppressedDestination"
    ]
    assert entry["EmailAddress"] == "ceo@client.example"
    assert entry["Reason"] == "BOUNCE"
    assert entry["LastUpdateTime"] == datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    assert entry["Attributes"]["MessageId"]
    assert entry["Attributes"]["FeedbackId"]


def test_not_suppressed_is_not_found(lab: LabAwsServer) -> None:
    ses = client(lab, "sesv2")
    with pytest.raises(ses.exceptions.NotFoundException) as exc:
        ses.get_suppressed_destination(EmailAddress="friend@client.example")
    assert error_of(exc)[:2] == (404, "NotFoundException")
    with pytest.raises(ClientError) as exc:  # suppression lists are per region
        client(lab, "sesv2", region="us-west-2").get_suppressed_destination(EmailAddress="ceo@client.example")
    assert error_of(exc)[1] == "NotFoundException"


def test_list_suppressed_destinations_filters_and_pages(lab: LabAwsServer) -> None:
    ses = client(lab, "sesv2")
    everything = ses.list_suppressed_destinations()["SuppressedDestinationSummaries"]
    assert [(e["EmailAddress"], e["Reason"], e["LastUpdateTime"]) for e in everything] == [
        ("angry@client.example", "COMPLAINT", datetime(2026, 11, 20, 7, 0, tzinfo=UTC)),
        ("ceo@client.example", "BOUNCE", datetime(2026, 11, 18, 12, 0, tzinfo=UTC)),
        ("old@client.example", "BOUNCE", datetime(2026, 10, 31, 12, 0, tzinfo=UTC)),
    ]
    complaints = ses.list_suppressed_destinations(Reasons=["COMPLAINT"])["SuppressedDestinationSummaries"]
    assert [e["EmailAddress"] for e in complaints] == ["angry@client.example"]
    recent = ses.list_suppressed_destinations(
        StartDate=NOW - timedelta(days=3), EndDate=NOW - timedelta(days=1)
    )
    assert [e["EmailAddress"] for e in recent["SuppressedDestinationSummaries"]] == ["ceo@client.example"]
    first = ses.list_suppressed_destinations(PageSize=2)
    assert len(first["SuppressedDestinationSummaries"]) == 2
    second = ses.list_suppressed_destinations(PageSize=2, NextToken=first["NextToken"])
    assert [e["EmailAddress"] for e in second["SuppressedDestinationSummaries"]] == ["old@client.example"]
    assert "NextToken" not in second


# -- CloudTrail ------------------------------------------------------------------------------------


def lookup(
    lab: LabAwsServer, key: str, value: str, region: str = "us-east-1", **kw: Any
) -> list[dict[str, Any]]:
    trail = client(lab, "cloudtrail", region=region)
    events: list[dict[str, Any]] = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}], **kw
    )["Events"]
    return events


def test_lookup_by_username_newest_first(lab: LabAwsServer) -> None:
    events = lookup(lab, "Username", "alice")
    # the CreateUser of 400 days ago is past CloudTrail's 90-day event history
    assert [(e["EventName"], e["EventTime"]) for e in events] == [
        ("DeleteAccessKey", datetime(2026, 11, 17, 14, 0, tzinfo=UTC)),
        ("UpdateAccessKey", datetime(2026, 11, 17, 13, 0, tzinfo=UTC)),
        ("CreateAccessKey", datetime(2026, 11, 17, 12, 0, tzinfo=UTC)),
        ("CreateAccessKey", datetime(2026, 9, 21, 12, 0, tzinfo=UTC)),
    ]
    assert {e["Username"] for e in events} == {"alice"}
    assert {e["EventSource"] for e in events} == {"iam.amazonaws.com"}
    assert {e["ReadOnly"] for e in events} == {"false"}
    assert events[0]["Resources"] == [
        {"ResourceType": "AWS::IAM::AccessKey", "ResourceName": GONE_KEY},
        {"ResourceType": "AWS::IAM::User", "ResourceName": "ses-smtp-user"},
    ]
    assert [e["EventName"] for e in lookup(lab, "Username", "bob")] == ["PutUserPolicy"]


def test_lookup_by_access_key_id_finds_the_calls_that_key_signed(lab: LabAwsServer) -> None:
    alice_keys = {e["AccessKeyId"] for e in lookup(lab, "Username", "alice")}
    assert len(alice_keys) == 1
    alice_key = alice_keys.pop()
    assert alice_key.startswith("AKIA") and len(alice_key) == 20
    assert len(lookup(lab, "AccessKeyId", alice_key)) == 4
    assert lookup(lab, "AccessKeyId", NEW_KEY) == []  # the SMTP key signed no IAM call
    # the key acted on is a resource of the event
    assert [e["EventName"] for e in lookup(lab, "ResourceName", GONE_KEY)] == [
        "DeleteAccessKey",
        "CreateAccessKey",
    ]


def test_lookup_by_event_name(lab: LabAwsServer) -> None:
    events = lookup(lab, "EventName", "CreateAccessKey")
    assert [e["Resources"][0]["ResourceName"] for e in events] == [NEW_KEY, GONE_KEY]


def test_lookup_time_window(lab: LabAwsServer) -> None:
    events = lookup(
        lab,
        "EventSource",
        "iam.amazonaws.com",
        StartTime=NOW - timedelta(hours=71, minutes=30),
        EndTime=NOW - timedelta(hours=69),
    )
    assert [e["EventName"] for e in events] == ["DeleteAccessKey", "UpdateAccessKey"]


def test_lookup_pages_with_next_token(lab: LabAwsServer) -> None:
    trail = client(lab, "cloudtrail")
    names: list[str] = []
    pages = 0
    kwargs: dict[str, Any] = {"MaxResults": 2}
    while True:
        page = trail.lookup_events(**kwargs)
        pages += 1
        assert len(page["Events"]) <= 2
        names += [e["EventName"] for e in page["Events"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert pages == 3
    assert names == [
        "DeleteAccessKey",
        "UpdateAccessKey",
        "CreateAccessKey",
        "PutUserPolicy",
        "CreateAccessKey",
    ]


def test_lookup_rejects_two_attributes(lab: LabAwsServer) -> None:
    trail = client(lab, "cloudtrail")
    with pytest.raises(trail.exceptions.InvalidLookupAttributesException) as exc:
        trail.lookup_events(
            LookupAttributes=[
                {"AttributeKey": "Username", "AttributeValue": "alice"},
                {"AttributeKey": "EventName", "AttributeValue": "CreateAccessKey"},
            ]
        )
    assert error_of(exc)[:2] == (400, "InvalidLookupAttributesException")


def test_iam_events_are_only_in_us_east_1(lab: LabAwsServer) -> None:
    assert lookup(lab, "Username", "alice", region="us-west-2") == []


def test_cloudtrail_event_json(lab: LabAwsServer) -> None:
    update = lookup(lab, "EventName", "UpdateAccessKey")[0]
    record = json.loads(update["CloudTrailEvent"])
    assert record["eventVersion"] == "1.08"
    assert record["userIdentity"] == {
        "type": "IAMUser",
        "principalId": record["userIdentity"]["principalId"],
        "arn": "arn:aws:iam::123456789012:user/alice",
        "accountId": ACCOUNT,
        "accessKeyId": update["AccessKeyId"],
        "userName": "alice",
    }
    assert record["userIdentity"]["principalId"].startswith("AIDA")
    assert record["eventTime"] == "2026-11-17T13:00:00Z"
    assert record["eventSource"] == "iam.amazonaws.com"
    assert record["eventName"] == "UpdateAccessKey"
    assert record["awsRegion"] == "us-east-1"
    assert record["sourceIPAddress"] == "198.51.100.7"
    assert record["userAgent"]
    assert record["requestParameters"] == {
        "userName": "ses-smtp-user",
        "accessKeyId": OLD_KEY,
        "status": "Inactive",
    }
    assert record["responseElements"] is None
    assert record["eventID"] == update["EventId"]
    assert record["requestID"]
    assert record["readOnly"] is False
    assert record["eventType"] == "AwsApiCall"
    assert record["managementEvent"] is True
    assert record["recipientAccountId"] == ACCOUNT
    assert record["eventCategory"] == "Management"

    create = json.loads(lookup(lab, "ResourceName", NEW_KEY)[0]["CloudTrailEvent"])
    assert create["requestParameters"] == {"userName": "ses-smtp-user"}
    assert create["responseElements"] == {
        "accessKey": {
            "userName": "ses-smtp-user",
            "accessKeyId": NEW_KEY,
            "status": "Active",
            "createDate": "Nov 17, 2026 12:00:00 PM",
        }
    }
    role = json.loads(lookup(lab, "Username", "bob")[0]["CloudTrailEvent"])
    assert role["userIdentity"]["type"] == "AssumedRole"
    assert role["userIdentity"]["arn"] == "arn:aws:sts::123456789012:assumed-role/ops-admin/bob"
    # event ids are stable across calls
    assert lookup(lab, "EventId", update["EventId"])[0]["EventName"] == "UpdateAccessKey"


# -- IAM and STS (moto, seeded) --------------------------------------------------------------------


def test_iam_access_keys_are_the_scenarios(lab: LabAwsServer) -> None:
    keys = client(lab, "iam").list_access_keys(UserName="ses-smtp-user")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"], k["CreateDate"]) for k in keys] == [
        (NEW_KEY, "Active", datetime(2026, 11, 17, 12, 0, tzinfo=UTC)),
        (OLD_KEY, "Inactive", datetime(2025, 10, 16, 12, 0, tzinfo=UTC)),
    ]


def test_access_key_last_used(lab: LabAwsServer) -> None:
    iam = client(lab, "iam")
    used = iam.get_access_key_last_used(AccessKeyId=NEW_KEY)
    assert used["UserName"] == "ses-smtp-user"
    assert used["AccessKeyLastUsed"] == {
        "LastUsedDate": datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        "ServiceName": "ses",
        "Region": "us-east-1",
    }
    never = iam.get_access_key_last_used(AccessKeyId=OLD_KEY)
    assert never["UserName"] == "ses-smtp-user"
    assert never["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    assert "LastUsedDate" not in never["AccessKeyLastUsed"]


def test_deleted_access_key_is_access_denied_on_the_key(lab: LabAwsServer) -> None:
    """As real IAM is taken to answer (its model lists no error for the operation): 403 on the key."""
    iam = client(lab, "iam")
    with pytest.raises(ClientError) as exc:
        iam.get_access_key_last_used(AccessKeyId=GONE_KEY)
    assert error_of(exc) == (
        403,
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/lab-operator is not authorized to perform: "
        f"iam:GetAccessKeyLastUsed on resource: access key {GONE_KEY}",
    )


def test_deleted_access_key_is_no_such_entity_with_moto_answers(server: LabAwsServer) -> None:
    server.load(Scenario.model_validate({**SCENARIO, "iam_answers": "moto"}), now=NOW)
    iam = client(server, "iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException) as exc:
        iam.get_access_key_last_used(AccessKeyId=GONE_KEY)
    assert error_of(exc)[1:] == ("NoSuchEntity", f"The Access Key with id {GONE_KEY} cannot be found")


def test_access_key_info_names_the_owner_deleted_keys_included(server: LabAwsServer) -> None:
    foreign = {"AKIAEXAMPLEFORGN0005": "210987654321"}
    server.load(Scenario.model_validate({**SCENARIO, "foreign_keys": foreign}), now=NOW)
    sts = client(server, "sts")
    assert sts.get_access_key_info(AccessKeyId=GONE_KEY)["Account"] == ACCOUNT
    assert sts.get_access_key_info(AccessKeyId=NEW_KEY)["Account"] == ACCOUNT
    assert sts.get_access_key_info(AccessKeyId="AKIAEXAMPLEFORGN0005")["Account"] == "210987654321"


def test_caller_identity_of_a_scenario_key(lab: LabAwsServer) -> None:
    assert client(lab, "sts").get_caller_identity()["Account"] == ACCOUNT
    identity = client(lab, "sts", key=NEW_KEY).get_caller_identity()
    assert identity["Arn"] == "arn:aws:iam::123456789012:user/ses-smtp-user"


def test_simulate_principal_policy(lab: LabAwsServer) -> None:
    iam = client(lab, "iam")
    smtp = iam.simulate_principal_policy(
        PolicySourceArn="arn:aws:iam::123456789012:user/ses-smtp-user",
        ActionNames=["ses:SendRawEmail", "ses:SendEmail"],
    )["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in smtp] == [
        ("ses:SendRawEmail", "allowed"),
        ("ses:SendEmail", "implicitDeny"),
    ]
    assert smtp[0]["MatchedStatements"][0]["SourcePolicyId"] == "AmazonSesSendingAccess"
    auditor = iam.simulate_principal_policy(
        PolicySourceArn="arn:aws:iam::123456789012:user/auditor",
        ActionNames=["ses:SendRawEmail", "s3:GetObject"],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in auditor] == ["explicitDeny", "allowed"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.simulate_principal_policy(
            PolicySourceArn="arn:aws:iam::123456789012:user/nobody", ActionNames=["ses:SendRawEmail"]
        )


# -- CloudWatch ------------------------------------------------------------------------------------


def test_cloudwatch_reputation_rates(lab: LabAwsServer) -> None:
    cloudwatch = client(lab, "cloudwatch")

    def rates(metric: str) -> set[float]:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SES",
            MetricName=metric,
            StartTime=NOW - timedelta(hours=6),
            EndTime=NOW,
            Period=3600,
            Statistics=["Average"],
        )["Datapoints"]
        assert len(points) >= 3
        return {p["Average"] for p in points}

    assert rates("Reputation.BounceRate") == {0.062}
    assert rates("Reputation.ComplaintRate") == {0.0008}
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "bounce",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SES", "MetricName": "Reputation.BounceRate"},
                    "Period": 3600,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=NOW - timedelta(hours=6),
        EndTime=NOW,
    )["MetricDataResults"][0]
    assert data["Values"] and set(data["Values"]) == {0.062}


# -- lifecycle -------------------------------------------------------------------------------------


def test_load_replaces_the_previous_scenario(lab: LabAwsServer) -> None:
    lab.load(Scenario.model_validate(OTHER), now=NOW)
    ses = client(lab, "sesv2")
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.get_email_identity(EmailIdentity="example.com")
    assert ses.get_email_identity(EmailIdentity="other.example")["VerificationStatus"] == "SUCCESS"
    assert client(lab, "iam").list_users()["Users"] == []
    assert client(lab, "cloudtrail").lookup_events()["Events"] == []
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.get_suppressed_destination(EmailAddress="ceo@client.example")
    points = client(lab, "cloudwatch").get_metric_statistics(
        Namespace="AWS/SES",
        MetricName="Reputation.BounceRate",
        StartTime=NOW - timedelta(hours=6),
        EndTime=NOW,
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert {p["Maximum"] for p in points} == {0.0}


def test_load_is_fast(server: LabAwsServer) -> None:
    scenario = Scenario.model_validate(SCENARIO)
    started = time.perf_counter()
    server.load(scenario, now=NOW)
    assert time.perf_counter() - started < 0.3


def test_stop_frees_the_port_and_leaves_no_threads() -> None:
    lab = LabAwsServer()
    lab.start()
    port = int(lab.endpoint_url.rsplit(":", 1)[1])
    assert client(lab, "sesv2").get_account()["SendingEnabled"] is True  # nothing loaded: a healthy account
    lab.stop()
    lab.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith(f"lab-aws-{port}")]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
