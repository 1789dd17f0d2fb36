"""Lab scenarios: the state of a small mail world (SES, IAM, CloudTrail, DNS) as YAML, validated strictly.

Times are relative to when the scenario is loaded (``-3d``, ``-2h``, ``-90m``, ``now``) so that a
scenario always reads as "the key was rotated three days ago".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from maildoctor import yamlfile
from maildoctor.errors import MaildoctorError
from maildoctor.smtp_password import smtp_password_v2, smtp_password_v4

SCENARIOS_DIR = Path(__file__).with_name("scenarios")
LAB_ACCOUNT_ID = "123456789012"  # moto's default account

_DATE_PLACEHOLDER = re.compile(r"\{date:(now|-\d+[dhms])\}")
_RELATIVE = re.compile(r"^(?:now|-(\d+)([dhms]))$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}

# Regions launched after 20 March 2019 are disabled in a new account until enabled ("opt-in regions",
# AWS Account Management guide, "Enable or disable AWS Regions in your account").
OPT_IN_REGIONS = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-1",
    "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
})  # fmt: skip
SuppressionReason = Literal["BOUNCE", "COMPLAINT"]


def parse_when(text: str, now: datetime) -> datetime:
    match = _RELATIVE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a relative time like -3d, -2h, -15m or now")
    if text.strip() == "now":
        return now
    return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


RelTime = Annotated[str, Field(pattern=_RELATIVE.pattern, description="relative to now: -3d, -2h, -15m, now")]
KeyId = Annotated[str, Field(pattern=r"^AKIA[A-Z0-9]{16}$")]
AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Account(Strict):
    production_access: bool = True
    sending_enabled: bool = True
    enforcement: Literal["HEALTHY", "PROBATION", "SHUTDOWN"] = "HEALTHY"
    review_status: Literal["PENDING", "FAILED", "GRANTED", "DENIED"] | None = None
    max_24h_send: float = 50000
    max_send_rate: float = 14
    sent_last_24h: float = 0
    bounce_rate: float = 0.0  # fractions: 0.05 = 5 %
    complaint_rate: float = 0.0
    suppressed_reasons: list[SuppressionReason] = Field(
        default_factory=lambda: list[SuppressionReason](["BOUNCE", "COMPLAINT"]),
        description="the reasons the account-level suppression list adds addresses for",
    )


class Dkim(Strict):
    signing_enabled: bool = True
    status: Literal["PENDING", "SUCCESS", "FAILED", "TEMPORARY_FAILURE", "NOT_STARTED"] = "SUCCESS"
    tokens: list[str] = Field(default_factory=list)
    # AWS_SES_<REGION>: Deterministic Easy DKIM, replicated from a parent identity in that region
    origin: str = Field("AWS_SES", pattern=r"^(AWS_SES|EXTERNAL|AWS_SES_[A-Z]{2}(_[A-Z]+)+_[0-9])$")


class MailFrom(Strict):
    domain: str
    status: Literal["PENDING", "SUCCESS", "FAILED", "TEMPORARY_FAILURE"] = "SUCCESS"
    behavior_on_mx_failure: Literal["USE_DEFAULT_VALUE", "REJECT_MESSAGE"] = "USE_DEFAULT_VALUE"


class Recommendation(Strict):
    """An SES Virtual Deliverability Manager recommendation (ListRecommendations)."""

    type: Literal["DKIM", "DMARC", "SPF", "BIMI", "COMPLAINT", "BOUNCE", "FEEDBACK_3P", "IP_LISTING"]
    description: str
    impact: Literal["LOW", "HIGH"] = "HIGH"
    status: Literal["OPEN", "FIXED"] = "OPEN"
    resource: str = Field("", description="the resource it is about (an identity name); the ARN is built")
    time: RelTime = "-1d"


class ConfigurationSet(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    sending_enabled: bool = True
    suppressed_reasons: list[SuppressionReason] | None = Field(
        None,
        description="the set's suppression override (an empty list: suppress nothing); none: the account's applies",
    )


class Identity(Strict):
    identity: str
    verification: Literal["PENDING", "SUCCESS", "FAILED", "TEMPORARY_FAILURE", "NOT_STARTED"] = "SUCCESS"
    dkim: Dkim | None = None
    mail_from: MailFrom | None = None
    configuration_set: str | None = Field(
        None,
        description="the identity's default configuration set (a name in configuration_sets, same region)",
    )

    @property
    def type(self) -> str:
        return "EMAIL_ADDRESS" if "@" in self.identity else "DOMAIN"

    @property
    def verified_for_sending(self) -> bool:
        return self.verification == "SUCCESS"


class Suppressed(Strict):
    address: str
    reason: Literal["BOUNCE", "COMPLAINT"] = "BOUNCE"
    time: RelTime = "-1d"


class Policy(Strict):
    name: str
    actions: list[str]
    resource: str = "*"
    effect: Literal["Allow", "Deny"] = "Allow"
    condition: dict[str, dict[str, str | list[str]]] | None = Field(
        None,
        description="an IAM Condition block, e.g. {StringEquals: {'ses:FromAddress': 'admin@example.com'}}; "
        "the lab evaluates StringEquals, StringLike and their ForAnyValue:/ForAllValues: forms",
    )


class AccessKey(Strict):
    id: Annotated[str, Field(pattern=r"^AKIA[A-Z0-9]{16}$")]
    secret: Annotated[str, Field(min_length=40, max_length=40)]
    status: Literal["Active", "Inactive", "Expired"] = "Active"  # IAM's statusType enum
    created: RelTime = "-30d"
    last_used: RelTime | None = None
    last_used_service: str = "ses"
    last_used_region: str = "us-east-1"


class User(Strict):
    name: str
    policies: list[Policy] = Field(default_factory=list)
    keys: list[AccessKey] = Field(default_factory=list)


class Iam(Strict):
    users: list[User] = Field(default_factory=list)


SES_EVENTS = ("UpdateAccountSendingEnabled", "PutAccountSendingAttributes")  # SES v1, SES v2


class TrailEvent(Strict):
    event: Literal["CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "CreateUser", "AttachUserPolicy",
                   "PutUserPolicy", "DeleteUser",
                   # read events (readOnly: true), as the console and scanners make them
                   "GetUser", "ListUsers", "ListAccessKeys", "GetAccessKeyLastUsed",
                   # SES: the account's own pause (or resume), recorded in the region it applies to
                   "UpdateAccountSendingEnabled", "PutAccountSendingAttributes"]  # fmt: skip
    time: RelTime
    actor: str = Field(
        description="the IAM user name (or ROLE/SESSION, an assumed-role session) that made the call"
    )
    user: str | None = Field(None, description="the IAM user acted on (IAM events only)")
    key: str | None = Field(None, description="the access key id acted on")
    status: Literal["Active", "Inactive"] | None = None
    enabled: bool = Field(False, description="SES events: the sending state the call set")
    source_ip: str = "198.51.100.7"
    region: str = "us-east-1"

    @model_validator(mode="after")
    def _user_for_iam(self) -> TrailEvent:
        if self.event not in SES_EVENTS and self.user is None:
            raise PydanticCustomError(
                "missing_user", "user is required for the IAM event {event}", {"event": self.event}
            )
        return self

    @property
    def source(self) -> str:
        return "ses.amazonaws.com" if self.event in SES_EVENTS else "iam.amazonaws.com"


class EventRule(Strict):
    """An EventBridge rule on the default event bus (events:ListRules), e.g. an alert on key rotations."""

    name: str = Field(pattern=r"^[\.\-_A-Za-z0-9]{1,64}$")
    pattern: dict[str, Any] | None = Field(None, description="its event pattern (none: a schedule)")
    schedule: str | None = Field(None, description="a schedule expression, for a rule without a pattern")
    state: Literal["ENABLED", "DISABLED"] = "ENABLED"
    description: str = ""
    region: str = Field("us-east-1", description="where the rule is (IAM's events arrive in us-east-1)")

    @model_validator(mode="after")
    def _pattern_or_schedule(self) -> EventRule:
        if (self.pattern is None) == (self.schedule is None):
            raise PydanticCustomError("rule_kind", "a rule has a pattern or a schedule, one of the two", {})
        return self


_RR_TYPES = {"A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "PTR", "SRV", "CAA"}


class Dns(Strict):
    zone: str = ""
    drop: list[Annotated[str, Field(pattern=r"^\S+ [A-Z]+$")]] = Field(
        default_factory=list, description="'OWNER TYPE' records to leave out of the zone (for extends)"
    )
    add: str = Field("", description="zone-file lines added after the zone (for extends)")
    servfail: list[str] = Field(default_factory=list)
    timeout: list[str] = Field(default_factory=list)

    def effective_zone(self) -> str:
        """The zone without the dropped records, with the added ones."""
        dropped = {tuple(d.split()) for d in self.drop}
        kept = []
        for line in self.zone.splitlines():
            words = line.split()
            rtype = next((w for w in words[1:] if w in _RR_TYPES), None)
            if words and not line[:1].isspace() and (words[0], rtype) in dropped:
                continue
            kept.append(line)
        return "\n".join(kept) + "\n" + self.add


class DerivedPassword(Strict):
    """A configured SMTP password computed from a secret, so scenarios never carry a password literal."""

    derive_from_secret: str
    region: str = "us-east-1"
    version: Literal[2, 4] = 4

    def value(self) -> str:
        if self.version == 2:
            return smtp_password_v2(self.derive_from_secret)
        return smtp_password_v4(self.derive_from_secret, self.region)


class Scenario(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, title="maildoctor lab scenario")

    name: str
    description: str
    extends: str | None = Field(None, description="start from this shipped scenario and override it")
    expect: str = Field(description="the diagnosis code a walk of this scenario reaches")
    regions: list[str] = Field(default_factory=lambda: ["us-east-1"], min_length=1)
    account: dict[str, Account] = Field(
        default_factory=dict, description="per region; default: healthy production"
    )
    identities: dict[str, list[Identity]] = Field(default_factory=dict, description="per region")
    configuration_sets: dict[str, list[ConfigurationSet]] = Field(
        default_factory=dict, description="per region: SES configuration sets (an identity may name one)"
    )
    recommendations: dict[str, list[Recommendation]] = Field(
        default_factory=dict, description="per region: SES VDM recommendations (ListRecommendations)"
    )
    enabled_regions: list[str] = Field(
        default_factory=list,
        description="opt-in regions the account has enabled; every region the scenario names is enabled too, "
        "the other opt-in regions are disabled (as in a new account)",
    )
    suppression: dict[str, list[Suppressed]] = Field(default_factory=dict, description="per region")
    iam: Iam = Field(default_factory=Iam)
    cloudtrail: list[TrailEvent] = Field(default_factory=list)
    eventbridge: list[EventRule] = Field(
        default_factory=list, description="EventBridge rules (default event bus), seeded into moto at load"
    )
    audit_expect: list[str] | None = Field(
        None,
        description="the finding codes `maildoctor audit` of this world gives (empty: audit-clean); "
        "none: not an audit scenario",
    )
    cloudtrail_read_events: int = Field(
        0,
        ge=0,
        le=20000,
        description="fill the event history with this many read events (GetUser, ListUsers, ListAccessKeys, "
        "GetAccessKeyLastUsed by a console viewer and a scanner) about the scenario's users and keys, "
        "spread over the 90 days, as real history holds them",
    )
    dns: Dns = Field(default_factory=Dns)
    smtp_refuses_connections: bool = Field(
        False, description="the SMTP endpoint cannot be reached (a firewall)"
    )
    smtp_tls: Literal["starttls", "implicit"] = Field(
        "starttls",
        description="how the client reaches the lab's SMTP: starttls (as SES on 587) or implicit, TLS from "
        "the first byte (as SES on 465)",
    )
    faults: list[str] = Field(
        default_factory=list, description="lab faults this scenario's world has (names as `--fault`)"
    )
    region_from_profile: bool = Field(
        False,
        description="the walk's AWS region is set only as the region of an AWS profile in an AWS config "
        "file (AWS_CONFIG_FILE, AWS_PROFILE), with AWS_REGION and AWS_DEFAULT_REGION empty",
    )
    inputs: dict[str, str | DerivedPassword] = Field(
        default_factory=dict, description="what the client is configured with: the inputs of a walk"
    )
    iam_answers: Literal["aws", "moto"] = Field(
        "aws",
        description="how IAM GetAccessKeyLastUsed answers for a key not in this account: aws (403 "
        "AccessDenied on resource: access key …, as real IAM probably does) or moto (404 NoSuchEntity)",
    )
    foreign_keys: dict[KeyId, AccountId] = Field(
        default_factory=dict,
        description="access key ids of other AWS accounts -> the owning account (sts:GetAccessKeyInfo)",
    )

    @field_validator("account", "identities", "suppression", "configuration_sets", "recommendations")
    @classmethod
    def _regions_named(cls, value: dict[str, Any]) -> dict[str, Any]:
        for region in value:
            if not re.match(r"^[a-z]{2}(-gov)?-[a-z]+-\d$", region):
                raise ValueError(f"{region!r} is not a region name")
        return value

    @field_validator("enabled_regions")
    @classmethod
    def _opt_in_only(cls, value: list[str]) -> list[str]:
        for region in value:
            if region not in OPT_IN_REGIONS:
                raise ValueError(
                    f"{region!r} is not an opt-in region (opt-in: {', '.join(sorted(OPT_IN_REGIONS))})"
                )
        return value

    @model_validator(mode="after")
    def _configuration_sets_known(self) -> Scenario:
        for region, identities in self.identities.items():
            known = {c.name for c in self.configuration_sets.get(region, [])}
            for index, identity in enumerate(identities):
                if identity.configuration_set is not None and identity.configuration_set not in known:
                    # ctx "path": where load_scenario points (a model-level error has no location of its own)
                    raise PydanticCustomError(
                        "unknown_configuration_set",
                        "configuration set '{name}' is not in configuration_sets.{region}",
                        {
                            "name": identity.configuration_set,
                            "region": region,
                            "path": ("identities", region, index, "configuration_set"),
                        },
                    )
        return self

    def named_regions(self) -> set[str]:
        """Every region the scenario names (each is enabled in the lab's account)."""
        named = {*self.regions, *self.account, *self.identities, *self.suppression, *self.configuration_sets,
                 *self.recommendations}  # fmt: skip
        named |= {event.region for event in self.cloudtrail}
        named |= {rule.region for rule in self.eventbridge}
        region_input = self.inputs.get("region")
        if isinstance(region_input, str) and region_input:
            named.add(region_input)
        return named

    def region_enabled(self, region: str) -> bool:
        """Whether the account may use ``region``: opt-in regions only when enabled or named."""
        return (
            region not in OPT_IN_REGIONS or region in self.enabled_regions or region in self.named_regions()
        )

    def configuration_set(self, region: str, name: str) -> ConfigurationSet | None:
        return next((c for c in self.configuration_sets.get(region, []) if c.name == name), None)

    @property
    def region(self) -> str:
        """The sending region."""
        return self.regions[0]

    def account_in(self, region: str) -> Account:
        return self.account.get(region, Account())

    def identity(self, region: str, name: str) -> Identity | None:
        for identity in self.identities.get(region, []):
            if identity.identity.lower() == name.lower():
                return identity
        return None

    def find_key(self, key_id: str) -> tuple[User, AccessKey] | None:
        for user in self.iam.users:
            for key in user.keys:
                if key.id == key_id:
                    return user, key
        return None

    def walk_inputs(self, at: datetime | None = None) -> dict[str, str]:
        """The inputs of a walk of this scenario, secrets derived in memory, and ``{date:-2h}`` in a
        text (a bounce's Date header) written as an RFC 5322 date relative to now."""
        when = at or now()

        def text(value: str) -> str:
            return _DATE_PLACEHOLDER.sub(lambda m: format_datetime(parse_when(m.group(1), when)), value)

        return {k: (v.value() if isinstance(v, DerivedPassword) else text(v)) for k, v in self.inputs.items()}


class ScenarioError(MaildoctorError):
    pass


def scenario_paths() -> list[Path]:
    return sorted(SCENARIOS_DIR.glob("*.yaml"))


def find_scenario(name_or_path: str) -> Path:
    found = yamlfile.find(name_or_path, SCENARIOS_DIR)
    if found is not None:
        return found
    known = ", ".join(p.stem for p in scenario_paths())
    raise ScenarioError(f"no scenario named {name_or_path!r} (shipped scenarios: {known})")


def _merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; anything else (lists included) is replaced whole."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in override.items()}}
    return override


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A scenario's data with what it extends merged underneath; errors name file and line."""
    text = path.read_text(encoding="utf-8")
    try:
        parsed = yamlfile.read(text, str(path))
    except yamlfile.YamlError as exc:
        raise ScenarioError(str(exc)) from None
    data = parsed.data
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}:1: a scenario must be a mapping (name, description, expect ...)")
    parent = data.get("extends")
    if parent:
        parent_path = find_scenario(str(parent))
        if parent_path.resolve() in seen:
            raise ScenarioError(
                f"{path}:{parsed.lines.line(['extends'])}: extends {parent!r}, which extends it back"
            )
        data = _merge(_read(parent_path, (*seen, path.resolve())), data)
    data["__lines__"] = parsed.lines
    return data


def load_scenario(name_or_path: str) -> Scenario:
    """Load and validate a scenario (a shipped name or a path); errors name the file and line."""
    path = find_scenario(name_or_path)
    data = _read(path)
    lines: yamlfile.Lines = data.pop("__lines__")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            where = (err.get("ctx") or {}).get("path") or err["loc"]
            field = ".".join(str(p) for p in where)
            errors.append(f"{path}:{lines.line(where)}: {yamlfile.error_message(err, field)}")
        raise ScenarioError("\n".join(errors)) from None


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
