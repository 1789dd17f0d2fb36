"""The lab answers as AWS does where issue 11 found it did not: configuration sets and account suppression
attributes, the account's own pause (CloudTrail and SMTP), opt-in regions and ListRegions, SES's rate.

Over real HTTP (boto3) and SMTP (aiosmtplib) against the session's lab; expected values written by hand
from ses-facts.md and botocore's models, not read back from the lab's code.
"""

from __future__ import annotations

import json
import ssl
import time
from typing import Any

import aiosmtplib
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from maildoctor.lab import Lab
from maildoctor.lab.faults import FaultError, catalogue, compile_faults, parse_fault
from maildoctor.lab.scenario import Scenario, ScenarioError, load_scenario
from maildoctor.smtp_password import smtp_password_v4

WORLD: dict[str, Any] = {
    "name": "lab-follows-aws",
    "description": "configuration sets, suppression attributes, an address identity with its own MAIL FROM",
    "expect": "ok",
    "regions": ["us-east-1"],
    "account": {"us-east-1": {"suppressed_reasons": ["COMPLAINT"]}},
    "configuration_sets": {
        "us-east-1": [
            {"name": "transactional", "suppressed_reasons": []},
            {"name": "paused-set", "sending_enabled": False},
        ],
        "eu-west-1": [{"name": "bounces-only", "suppressed_reasons": ["BOUNCE"]}],
    },
    "identities": {
        "us-east-1": [
            {"identity": "example.com", "configuration_set": "transactional"},
            {
                "identity": "admin@example.com",
                "mail_from": {"domain": "bounce.admin.example.com", "status": "FAILED"},
            },
        ],
        "eu-west-1": [{"identity": "example.com", "configuration_set": "bounces-only"}],
    },
}


def scenario(**overrides: Any) -> Scenario:
    return Scenario.model_validate({**WORLD, **overrides})


def client(lab: Lab, service: str, region: str = "us-east-1", **config: Any) -> Any:
    settings = Config(connect_timeout=5, read_timeout=10, retries={"total_max_attempts": 1}, **config)
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=lab.aws.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=settings,
    )


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response: Any = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


# -- 1. configuration sets and suppression attributes --------------------------------------------


def test_account_suppression_attributes_are_the_scenarios(lab: Lab) -> None:
    lab.load(scenario())
    assert client(lab, "sesv2").get_account()["SuppressionAttributes"] == {"SuppressedReasons": ["COMPLAINT"]}
    # a region without an account entry suppresses both, as a new account does
    west = client(lab, "sesv2", "eu-west-1").get_account()["SuppressionAttributes"]
    assert west == {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]}


def test_identity_names_its_default_configuration_set(lab: Lab) -> None:
    lab.load(scenario())
    ses = client(lab, "sesv2")
    assert ses.get_email_identity(EmailIdentity="example.com")["ConfigurationSetName"] == "transactional"
    assert "ConfigurationSetName" not in ses.get_email_identity(EmailIdentity="admin@example.com")
    west = client(lab, "sesv2", "eu-west-1").get_email_identity(EmailIdentity="example.com")
    assert west["ConfigurationSetName"] == "bounces-only"


def test_get_configuration_set(lab: Lab) -> None:
    lab.load(scenario())
    ses = client(lab, "sesv2")
    override = ses.get_configuration_set(ConfigurationSetName="transactional")
    assert override["ConfigurationSetName"] == "transactional"
    assert override["SendingOptions"] == {"SendingEnabled": True}
    assert override["SuppressionOptions"] == {"SuppressedReasons": []}  # an empty override: suppress nothing
    assert override["DeliveryOptions"] == {"TlsPolicy": "OPTIONAL"}
    assert override["ReputationOptions"] == {"ReputationMetricsEnabled": False}
    paused = ses.get_configuration_set(ConfigurationSetName="paused-set")
    assert paused["SendingOptions"] == {"SendingEnabled": False}
    assert "SuppressionOptions" not in paused  # no override: the account's list applies
    west = client(lab, "sesv2", "eu-west-1").get_configuration_set(ConfigurationSetName="bounces-only")
    assert west["SuppressionOptions"] == {"SuppressedReasons": ["BOUNCE"]}


def test_unknown_configuration_set_is_not_found(lab: Lab) -> None:
    lab.load(scenario())
    ses = client(lab, "sesv2")
    with pytest.raises(ses.exceptions.NotFoundException) as exc:
        ses.get_configuration_set(ConfigurationSetName="nope")
    assert error_of(exc) == (404, "NotFoundException", "Configuration set nope does not exist.")
    with pytest.raises(ses.exceptions.NotFoundException):  # sets are per region
        ses.get_configuration_set(ConfigurationSetName="bounces-only")


def test_address_identity_has_its_own_mail_from(lab: Lab) -> None:
    lab.load(scenario())
    identity = client(lab, "sesv2").get_email_identity(EmailIdentity="admin@example.com")
    assert identity["IdentityType"] == "EMAIL_ADDRESS"
    assert identity["MailFromAttributes"] == {
        "MailFromDomain": "bounce.admin.example.com",
        "MailFromDomainStatus": "FAILED",
        "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
    }


def test_scenario_naming_an_unknown_configuration_set_is_refused(tmp_path: Any) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\ndescription: d\nexpect: ok\n"
        "configuration_sets:\n  us-east-1:\n    - name: other\n"
        "identities:\n  us-east-1:\n    - identity: example.com\n"
        "    - identity: a@example.com\n      configuration_set: missing\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as exc:
        load_scenario(str(path))
    assert str(exc.value) == (
        f"{path}:11: identities.us-east-1.1.configuration_set: "
        "configuration set 'missing' is not in configuration_sets.us-east-1"
    )


def test_configuration_set_response_fits_the_sesv2_model() -> None:
    """Every key the lab sends is a member of botocore's GetConfigurationSetResponse."""
    import botocore.session

    shape = botocore.session.get_session().get_service_model("sesv2").operation_model("GetConfigurationSet")
    members = shape.output_shape.members
    assert {"ConfigurationSetName", "SendingOptions", "SuppressionOptions", "DeliveryOptions",
            "ReputationOptions", "Tags"} <= set(members)  # fmt: skip
    assert members["SuppressionOptions"].members["SuppressedReasons"].member.enum == ["BOUNCE", "COMPLAINT"]
    assert members["SendingOptions"].members["SendingEnabled"].type_name == "boolean"


# -- 2. the account's own pause, in CloudTrail and at SMTP ----------------------------------------

PAUSED: dict[str, Any] = {
    **WORLD,
    "name": "paused-by-owner",
    "regions": ["eu-west-1"],
    "account": {"eu-west-1": {"sending_enabled": False}},
    "iam": {
        "users": [
            {
                "name": "ses-smtp-user",
                "policies": [{"name": "send", "actions": ["ses:SendRawEmail"]}],
                "keys": [{"id": "AKIAEXAMPLEPAUSED001", "secret": "p" * 40}],
            }
        ]
    },
    "cloudtrail": [
        {
            "event": "UpdateAccountSendingEnabled",
            "time": "-3h",
            "actor": "SesBounceGuard/lambda",
            "region": "eu-west-1",
        },
        {
            "event": "PutAccountSendingAttributes",
            "time": "-2d",
            "actor": "alice",
            "region": "us-east-1",
            "enabled": True,
        },
        {"event": "CreateUser", "time": "-1d", "actor": "alice", "user": "ses-smtp-user"},
    ],
}


def lookup(lab: Lab, region: str, name: str) -> list[dict[str, Any]]:
    trail = client(lab, "cloudtrail", region)
    found: list[dict[str, Any]] = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}]
    )["Events"]
    return found


def test_pause_event_is_in_its_region_only(lab: Lab) -> None:
    lab.load(Scenario.model_validate(PAUSED))
    events = lookup(lab, "eu-west-1", "UpdateAccountSendingEnabled")
    assert len(events) == 1
    assert lookup(lab, "us-east-1", "UpdateAccountSendingEnabled") == []
    event = events[0]
    assert event["EventSource"] == "ses.amazonaws.com"
    assert event["Username"] == "lambda"
    assert event["Resources"] == []
    assert event["ReadOnly"] == "false"
    record = json.loads(event["CloudTrailEvent"])
    assert record["eventSource"] == "ses.amazonaws.com"
    assert record["awsRegion"] == "eu-west-1"
    assert record["requestParameters"] == {"enabled": False}
    identity = record["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == "arn:aws:sts::123456789012:assumed-role/SesBounceGuard/lambda"
    assert (
        identity["sessionContext"]["sessionIssuer"]["arn"] == "arn:aws:iam::123456789012:role/SesBounceGuard"
    )
    # IAM events stay in us-east-1; looking up by source finds the SES events of the region only
    assert lookup(lab, "eu-west-1", "CreateUser") == []
    by_source = client(lab, "cloudtrail", "eu-west-1").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "ses.amazonaws.com"}]
    )["Events"]
    assert [e["EventName"] for e in by_source] == ["UpdateAccountSendingEnabled"]


def test_sesv2_resume_event(lab: Lab) -> None:
    lab.load(Scenario.model_validate(PAUSED))
    (event,) = lookup(lab, "us-east-1", "PutAccountSendingAttributes")
    record = json.loads(event["CloudTrailEvent"])
    assert record["requestParameters"] == {"sendingEnabled": True}
    assert record["userIdentity"]["type"] == "IAMUser"
    assert event["Username"] == "alice"


def test_iam_event_without_user_is_refused() -> None:
    with pytest.raises(ValueError, match="user is required for the IAM event CreateUser"):
        Scenario.model_validate(
            {**WORLD, "cloudtrail": [{"event": "CreateUser", "time": "-1d", "actor": "a"}]}
        )


async def test_smtp_says_sending_suspended_when_the_account_paused_itself(lab: Lab) -> None:
    lab.load(Scenario.model_validate(PAUSED))
    host, port = lab.smtp.address.rsplit(":", 1)
    smtp = aiosmtplib.SMTP(hostname=host, port=int(port), start_tls=True, timeout=5,
                           tls_context=ssl.create_default_context(cafile=str(lab.tls.ca_file)))  # fmt: skip
    await smtp.connect()
    try:
        await smtp.ehlo()
        await smtp.login("AKIAEXAMPLEPAUSED001", smtp_password_v4("p" * 40, "eu-west-1"))
        with pytest.raises(aiosmtplib.SMTPDataError) as raised:
            await smtp.sendmail("admin@example.com", ["friend@example.org"],
                                "From: admin@example.com\r\nTo: friend@example.org\r\nSubject: t\r\n\r\nhi\r\n")  # fmt: skip
    finally:
        smtp.close()
    assert raised.value.code == 554
    assert raised.value.message == (
        "Message rejected: Sending suspended for this account. For more information, please check the "
        "inbox of the email address associated with your AWS account."
    )


# -- 3. opt-in regions disabled as in a new account; ListRegions -----------------------------------

TOKEN_INVALID = "The security token included in the request is invalid."


def test_a_disabled_opt_in_region_answers_security_token_invalid(lab: Lab) -> None:
    lab.load(scenario(enabled_regions=["ap-east-1"]))
    ses = client(lab, "sesv2", "af-south-1")
    with pytest.raises(ClientError) as exc:
        ses.get_account()
    assert error_of(exc) == (403, "UnrecognizedClientException", TOKEN_INVALID)
    with pytest.raises(ClientError) as exc:
        client(lab, "cloudtrail", "me-south-1").lookup_events()
    assert error_of(exc) == (403, "UnrecognizedClientException", TOKEN_INVALID)
    with pytest.raises(ClientError) as exc:
        client(lab, "sts", "il-central-1").get_caller_identity()
    assert error_of(exc) == (403, "InvalidClientTokenId", TOKEN_INVALID)
    with pytest.raises(ClientError) as exc:
        client(lab, "cloudwatch", "eu-south-2").list_metrics(Namespace="AWS/SES")
    assert error_of(exc)[::2] == (403, TOKEN_INVALID)
    assert error_of(exc)[1] == "InvalidClientTokenId"
    # enabled: the one the scenario enables, and every default region
    assert client(lab, "sesv2", "ap-east-1").get_account()["SendingEnabled"] is True
    assert client(lab, "sesv2", "sa-east-1").get_account()["SendingEnabled"] is True


def test_regions_a_scenario_names_are_enabled(lab: Lab) -> None:
    named = scenario(
        regions=["eu-central-2"],
        suppression={"me-central-1": [{"address": "x@example.org"}]},
        cloudtrail=[
            {"event": "UpdateAccountSendingEnabled", "time": "-1h", "actor": "a", "region": "ap-south-2"}
        ],
        inputs={"region": "ca-west-1"},
    )
    lab.load(named)
    for region in ("eu-central-2", "me-central-1", "ap-south-2", "ca-west-1"):
        assert client(lab, "sesv2", region).get_account()["EnforcementStatus"] == "HEALTHY", region
    with pytest.raises(ClientError):
        client(lab, "sesv2", "mx-central-1").get_account()


def test_the_shipped_regional_dkim_scenario_still_reaches_its_region(lab: Lab) -> None:
    shipped = load_scenario("dkim-regional-zone")
    lab.load(shipped)
    region = shipped.region
    assert region in {"af-south-1", "ap-south-2", "ap-southeast-3", "ca-west-1", "eu-central-2", "eu-south-1",
                      "il-central-1", "me-central-1", "ap-northeast-3"}  # fmt: skip
    assert client(lab, "sesv2", region).get_account()["SendingEnabled"] in (True, False)


def test_enabled_regions_takes_opt_in_regions_only() -> None:
    with pytest.raises(ValueError, match="'us-east-1' is not an opt-in region"):
        scenario(enabled_regions=["us-east-1"])


def list_regions(lab: Lab, **kw: Any) -> list[dict[str, str]]:
    account = client(lab, "account")
    rows: list[dict[str, str]] = []
    for page in account.get_paginator("list_regions").paginate(**kw):
        rows += page["Regions"]
    return rows


def test_list_regions_gives_the_opt_in_status(lab: Lab) -> None:
    lab.load(scenario(enabled_regions=["ap-east-1"]))
    status = {r["RegionName"]: r["RegionOptStatus"] for r in list_regions(lab)}
    assert status["us-east-1"] == "ENABLED_BY_DEFAULT"
    assert status["eu-north-1"] == "ENABLED_BY_DEFAULT"
    assert status["ap-northeast-3"] == "ENABLED_BY_DEFAULT"
    assert status["ap-east-1"] == "ENABLED"
    assert status["af-south-1"] == "DISABLED"
    assert status["mx-central-1"] == "DISABLED"
    assert sum(s == "DISABLED" for s in status.values()) == 16  # 17 opt-in regions, one enabled
    assert len(status) >= 30
    disabled = list_regions(lab, RegionOptStatusContains=["DISABLED"])
    assert {r["RegionOptStatus"] for r in disabled} == {"DISABLED"} and len(disabled) == 16


def test_list_regions_pages(lab: Lab) -> None:
    lab.load(scenario())
    account = client(lab, "account")
    first = account.list_regions(MaxResults=5)
    assert len(first["Regions"]) == 5 and first["NextToken"]
    second = account.list_regions(MaxResults=5, NextToken=first["NextToken"])
    assert second["Regions"][0]["RegionName"] > first["Regions"][-1]["RegionName"]
    with pytest.raises(ClientError) as exc:
        account.list_regions(MaxResults=51)
    assert error_of(exc)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as exc:
        account.list_regions(NextToken="not-a-token")
    assert error_of(exc)[:2] == (400, "ValidationException")


def test_list_regions_is_named_and_can_be_denied(lab: Lab, fault: Any) -> None:
    lab.load(scenario())
    lab.aws.clear_operations()
    list_regions(lab)
    assert ("account", "ListRegions", "us-east-1") in lab.aws.operations()
    fault("aws-deny:account:ListRegions")
    account = client(lab, "account")
    with pytest.raises(ClientError) as exc:
        account.list_regions()
    assert error_of(exc)[:2] == (403, "AccessDeniedException")
    assert "account:ListRegions" in error_of(exc)[2]
    assert client(lab, "sesv2").get_account()["SendingEnabled"] is True  # the rest still answers


# -- 4. SES's rate as a lab fault -----------------------------------------------------------------


def test_ses_rate_fault_throttles_per_region(lab: Lab, fault: Any) -> None:
    lab.load(scenario())
    fault("aws-ses-rate:1")
    ses = client(lab, "sesv2")
    answers = []
    for _ in range(5):
        try:
            ses.get_account()
            answers.append("ok")
        except ClientError as throttled:
            answers.append(throttled.response["Error"]["Code"])
            assert throttled.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert throttled.response["Error"]["Message"] == "Too Many Requests"
    assert answers == ["ok"] + ["TooManyRequestsException"] * 4
    assert client(lab, "sesv2", "eu-west-1").get_account()["SendingEnabled"] is True  # its own bucket
    with pytest.raises(ClientError) as exc:  # SES v1 shares the region's bucket, and says it its way
        client(lab, "ses").get_send_quota()
    assert error_of(exc) == (400, "Throttling", "Rate exceeded")
    time.sleep(1.1)
    assert ses.get_account()["SendingEnabled"] is True
    assert client(lab, "iam").list_users()["Users"] == []  # not SES: never limited


def test_ses_rate_fault_admits_n_at_once(lab: Lab, fault: Any) -> None:
    lab.load(scenario())
    fault("aws-ses-rate:3")
    ses = client(lab, "sesv2")
    ok = 0
    for _ in range(6):
        try:
            ses.get_email_identity(EmailIdentity="example.com")
            ok += 1
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "TooManyRequestsException"
    assert ok == 3


def test_ses_rate_fault_from_the_scenario_and_its_names() -> None:
    assert parse_fault("aws-ses-rate").arg == "1"
    assert parse_fault("aws-ses-rate:2.5").name == "aws-ses-rate:2.5"
    assert compile_faults(["aws-ses-rate:5", "aws-ses-rate:2"]).aws.ses_rate == 2.0
    for bad in ("aws-ses-rate:0", "aws-ses-rate:fast", "aws-ses-rate:-1"):
        with pytest.raises(FaultError, match="is not a rate in calls per second"):
            parse_fault(bad)
    assert "aws-ses-rate[:N]" in catalogue()


def test_ses_rate_fault_in_a_scenarios_faults(lab: Lab) -> None:
    lab.load(scenario(faults=["aws-ses-rate"]))
    ses = client(lab, "sesv2")
    ses.get_account()
    with pytest.raises(ClientError) as exc:
        ses.get_account()
    assert error_of(exc)[:2] == (429, "TooManyRequestsException")


# -- 5. the SMTP server's "may send" is IAM's, conditions included ---------------------------------

SENDER_KEY = "AKIAEXAMPLECONDSEND1"


def conditional(condition: dict[str, Any]) -> Scenario:
    policy = {"name": "send-as", "actions": ["ses:SendRawEmail"], "condition": condition}
    return scenario(
        iam={
            "users": [
                {
                    "name": "ses-smtp-user",
                    "policies": [policy],
                    "keys": [{"id": SENDER_KEY, "secret": "c" * 40}],
                }
            ]
        }
    )


async def send(lab: Lab, sender: str, to: list[str], header_from: str | None = None) -> tuple[int, str]:
    host, port = lab.smtp.address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(lab.tls.ca_file))
    smtp = aiosmtplib.SMTP(hostname=host, port=int(port), start_tls=True, timeout=5, tls_context=context)
    await smtp.connect()
    try:
        await smtp.ehlo()
        await smtp.login(SENDER_KEY, smtp_password_v4("c" * 40, "us-east-1"))
        body = f"From: {header_from or sender}\r\nTo: {to[0]}\r\nSubject: t\r\n\r\nhi\r\n"
        try:
            _, reply = await smtp.sendmail(sender, to, body)
            return 250, reply
        except aiosmtplib.SMTPDataError as exc:
            return exc.code, exc.message
    finally:
        smtp.close()


async def test_from_address_condition_decides_at_smtp(lab: Lab) -> None:
    lab.load(conditional({"StringLike": {"ses:FromAddress": "noreply@*"}}))
    denied = await send(lab, "admin@example.com", ["friend@example.org"])
    assert denied == (
        554,
        "Access denied: User arn:aws:iam::123456789012:user/ses-smtp-user is not authorized to perform "
        "ses:SendRawEmail on resource arn:aws:ses:us-east-1:123456789012:identity/admin@example.com",
    )
    code, _ = await send(lab, "noreply@example.com", ["friend@example.org"])
    assert code == 250
    # the From header is the From address SES conditions on, not the envelope sender
    code, _ = await send(
        lab, "noreply@example.com", ["friend@example.org"], header_from="Admin <admin@example.com>"
    )
    assert code == 554


async def test_recipients_condition_decides_at_smtp(lab: Lab) -> None:
    lab.load(conditional({"ForAllValues:StringLike": {"ses:Recipients": "*@example.org"}}))
    assert (await send(lab, "admin@example.com", ["a@example.org", "b@example.org"]))[0] == 250
    assert (await send(lab, "admin@example.com", ["a@example.org", "c@elsewhere.test"]))[0] == 554


async def test_a_condition_on_a_key_smtp_does_not_give_denies(lab: Lab) -> None:
    lab.load(conditional({"StringEquals": {"aws:SourceVpce": "vpce-0123"}}))
    assert (await send(lab, "admin@example.com", ["friend@example.org"]))[0] == 554


def test_list_recommendations_filters_by_one_key(lab: Lab) -> None:
    lab.load("receiver-policy")  # one OPEN COMPLAINT recommendation and one FIXED BIMI one, for example.com
    ses = client(lab, "sesv2")
    every = ses.list_recommendations()["Recommendations"]
    assert sorted((r["Type"], r["Status"], r["Impact"]) for r in every) == [
        ("BIMI", "FIXED", "LOW"),
        ("COMPLAINT", "OPEN", "HIGH"),
    ]
    assert every[0]["ResourceArn"].endswith(":identity/example.com")
    assert every[0]["ResourceArn"].startswith("arn:aws:ses:us-east-1:")
    open_only = ses.list_recommendations(Filter={"STATUS": "OPEN"})["Recommendations"]
    assert [r["Type"] for r in open_only] == ["COMPLAINT"]
    assert client(lab, "sesv2", "us-west-2").list_recommendations()["Recommendations"] == []
