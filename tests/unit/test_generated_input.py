"""Bad input, generated (issue 9, item 10): the flow loader, the scenario loader, the bounce parser and
the inputs, fed what hypothesis makes up (random text and bytes, and the shipped files mutated), give
a result or their own one-line error (a MaildoctorError subclass), never another exception.

Example counts are bounded so that the whole file runs in well under 20 s; the counts are in
``EXAMPLES`` (``pytest --hypothesis-show-statistics`` prints what each test generated)."""

from __future__ import annotations

import base64
import io
import itertools
import quopri
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from maildoctor.bounce import LAYER_PHRASES, Bounce, Triage, classify, parse_bounce
from maildoctor.clients.settings import Settings
from maildoctor.errors import MaildoctorError
from maildoctor.flow.load import FlowErrors, builtin_flow_paths, parse_flow_text
from maildoctor.flow.model import Flow
from maildoctor.inputs import (
    InputError,
    NotText,
    decode_text,
    parse_sets,
    read_input_file,
    resolve,
)
from maildoctor.lab.scenario import SCENARIOS_DIR, Scenario, ScenarioError, load_scenario

EXAMPLES = {
    "flow_text": 150,
    "flow_mutated": 60,
    "scenario_text": 100,
    "scenario_mutated": 100,
    "bounce_text": 400,
    "bounce_pieces": 400,
    "bounce_encoded": 200,
    "inputs_sets": 300,
    "inputs_files": 300,
    "inputs_resolve": 300,
    "decode_bytes": 500,
    "decode_round_trip": 300,
}


def bounded(name: str) -> Any:
    return settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        database=None,
        derandomize=True,  # the same examples every run: the suite stays reproducible
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def assert_own_error(exc: MaildoctorError) -> None:
    """Our own error, with something to say (the CLI prints it as is, one line per problem)."""
    message = str(exc).strip()
    assert message, repr(exc)
    assert "Traceback" not in message


# --- YAML documents: random, and the shipped ones mutated -------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=24),
    st.sampled_from(["", "now", "-3d", "{x}", "{a.b}", "{{", "us-east-1", "AKIA", "@", "*", "~", "null"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)


def _paths(data: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*here, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, (*here, index))


@st.composite
def mutated(draw: st.DrawFn, data: Any) -> Any:
    """``data`` with one to three random changes: a value replaced, a key or item dropped, a key added."""
    import copy

    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(data))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if not path:
            if action == "replace":
                data = draw(VALUES)
            continue
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if action == "replace":
            parent[last] = draw(VALUES)
        elif action == "drop":
            del parent[last]
        elif isinstance(parent[last], dict):
            parent[last][draw(st.text(max_size=10))] = draw(VALUES)
        elif isinstance(parent[last], list):
            parent[last].append(draw(VALUES))
    return data


@st.composite
def text_edits(draw: st.DrawFn, text: str) -> str:
    """``text`` with lines dropped, duplicated, truncated or given random text."""
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "dup", "cut", "insert", "indent"]))
        if action == "drop":
            del lines[i]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif action == "insert":
            lines.insert(i, draw(st.text(max_size=30)) + "\n")
        else:
            lines[i] = " " * draw(st.integers(1, 3)) + lines[i]
    return "".join(lines)


def _dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, ValueError, TypeError):  # not representable (cannot happen for VALUES)
        return ""


FLOW_TEXTS = {p.stem: p.read_text(encoding="utf-8") for p in builtin_flow_paths()}
FLOW_DATA = {name: yaml.safe_load(text) for name, text in FLOW_TEXTS.items()}


def check_flow_text(text: str) -> None:
    try:
        flow = parse_flow_text(text, "generated.yaml")
    except FlowErrors as exc:
        event("refused with FlowErrors")
        assert exc.errors
        for error in exc.errors:
            shown = str(error)
            assert shown.startswith("generated.yaml"), shown
            assert "\n" not in shown.strip(), shown
        assert_own_error(exc)
    else:
        event("a valid flow")
        assert isinstance(flow, Flow)


@bounded("flow_text")
@given(st.one_of(st.text(max_size=300), VALUES.map(_dump)))
def test_the_flow_loader_on_random_text_and_documents(text: str) -> None:
    check_flow_text(text)


@pytest.mark.parametrize("text", ["\x1f", "? '\n\n'\n"])
def test_every_flow_error_is_one_line(text: str) -> None:
    """Two cases hypothesis found: PyYAML's ReaderError text, and a key with line breaks in it."""
    with pytest.raises(FlowErrors) as caught:
        parse_flow_text(text, "generated.yaml")
    assert all("\n" not in str(error) for error in caught.value.errors)


@bounded("flow_mutated")
@given(
    st.sampled_from(sorted(FLOW_DATA)).flatmap(
        lambda name: st.one_of(mutated(FLOW_DATA[name]).map(_dump), text_edits(FLOW_TEXTS[name]))
    )
)
def test_the_flow_loader_on_shipped_flows_mutated(text: str) -> None:
    check_flow_text(text)


# --- scenarios --------------------------------------------------------------------------------------------

SCENARIO_NAMES = ("seed-incident", "all-clear", "smtp-password-v2")
SCENARIO_TEXTS = {
    name: (SCENARIOS_DIR / f"{name}.yaml").read_text(encoding="utf-8") for name in SCENARIO_NAMES
}
SCENARIO_DATA = {name: yaml.safe_load(text) for name, text in SCENARIO_TEXTS.items()}
_scratch = tempfile.TemporaryDirectory(prefix="maildoctor-generated-")
SCRATCH = Path(_scratch.name)
_counter = itertools.count()


def _scratch_file(data: bytes | str, suffix: str = ".yaml") -> Path:
    path = SCRATCH / f"g{next(_counter)}{suffix}"
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def check_scenario_text(text: str) -> None:
    path = _scratch_file(text)
    try:
        scenario = load_scenario(str(path))
    except ScenarioError as exc:
        event("refused with ScenarioError")
        assert_own_error(exc)
    else:
        event("a valid scenario")
        assert isinstance(scenario, Scenario)
        scenario.walk_inputs()  # what the lab and `maildoctor lab` do first with it
    finally:
        path.unlink()


def test_a_scenario_extending_a_name_too_long_for_a_file_is_a_scenario_error() -> None:
    """Found by the mutation test below: ``extends`` given a long value (there, a whole mapping)."""
    path = _scratch_file(f"name: x\ndescription: y\nexpect: all-clear\nextends: {'x' * 300}\n")
    with pytest.raises(ScenarioError):
        load_scenario(str(path))


@bounded("scenario_text")
@given(st.one_of(st.text(max_size=300), VALUES.map(_dump)))
def test_the_scenario_loader_on_random_text_and_documents(text: str) -> None:
    check_scenario_text(text)


@bounded("scenario_mutated")
@given(
    st.sampled_from(SCENARIO_NAMES).flatmap(
        lambda name: st.one_of(mutated(SCENARIO_DATA[name]).map(_dump), text_edits(SCENARIO_TEXTS[name]))
    )
)
def test_the_scenario_loader_on_shipped_scenarios_mutated(text: str) -> None:
    check_scenario_text(text)


# --- bounces ----------------------------------------------------------------------------------------------

PIECES = [
    "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
    "To: a@example.com",
    "Subject: Delivery Status Notification (Failure)",
    "Date: Tue, 24 Nov 2026 10:15:02 +0000",
    "Date: Tue, 99 Foo 20261 99:99:99",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
    "Content-Type: message/delivery-status",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Type: text/html; charset=no-such-charset",
    "Content-Type: message/rfc822",
    "Content-Transfer-Encoding: base64",
    "Content-Transfer-Encoding: quoted-printable",
    "--b",
    "--b--",
    "",
    "Reporting-MTA: dns; mx.example.net",
    "Final-Recipient: rfc822; guest@example.net",
    "Original-Recipient: rfc822;<x@example.net>",
    "Action: failed",
    "Action: delivered",
    "Status: 5.1.1",
    "Status: 4.7.26",
    "Diagnostic-Code: smtp; 550 5.1.1 <guest@example.net> User unknown",
    "Diagnostic-Code: smtp;",
    "Remote-MTA: dns; email-smtp.us-east-1.amazonaws.com",
    "  continued line",
    "The response from the remote server was:",
    "The response was: 535 Authentication Credentials Invalid",
    "535 Authentication Credentials Invalid",
    "550-5.7.26 This mail is unauthenticated",
    "550 5.7.26 see https://support.google.com",
    "554 Message rejected: Email address is not verified.",
    "You're sending this from a different address or alias using the 'Send mail as' feature.",
    "NTM1IEF1dGhlbnRpY2F0aW9uIENyZWRlbnRpYWxzIEludmFsaWQ=",
    "=35=33=35 Authentication=",
    "<p>550 5.1.1</p>",
    "\r",
    "\x00",
]
LAYERS = set(LAYER_PHRASES)


def check_bounce(text: str) -> Bounce:
    bounce = parse_bounce(text)
    assert isinstance(bounce, Bounce)
    triage = classify(bounce, text)
    assert isinstance(triage, Triage)
    assert triage.layer in LAYERS
    assert triage.pathway in ("gmail-send-as", "smtp", "")
    assert isinstance(triage.explanation, str) and triage.layer_phrase
    if bounce.smtp_code is not None:
        assert 200 <= bounce.smtp_code <= 599
    return bounce


@bounded("bounce_text")
@given(st.text(max_size=600))
def test_the_bounce_parser_on_random_text(text: str) -> None:
    check_bounce(text)


@bounded("bounce_pieces")
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=20)), max_size=30).map("\n".join))
def test_the_bounce_parser_on_bounce_shaped_text(text: str) -> None:
    check_bounce(text)


HEADERS = (
    "From: MAILER-DAEMON@mx.example.net\nTo: admin@example.com\nSubject: Undelivered Mail\n"
    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: {cte}\n\n"
)
BODY_PIECES = [p for p in PIECES if not p.startswith(("Content-", "--b", "MIME", "\x00", "\r"))]


@bounded("bounce_encoded")
@given(
    st.lists(
        st.one_of(
            st.sampled_from(BODY_PIECES),
            st.text(st.characters(exclude_characters="\r\x00", exclude_categories=["Cs"]), max_size=20),
        ),
        max_size=20,
    ).map("\n".join),
    st.sampled_from(["base64", "quoted-printable"]),
)
def test_a_bounce_reads_the_same_sent_plain_or_encoded(body: str, cte: str) -> None:
    """What a single-part bounce says does not depend on its transfer encoding."""
    raw = body.encode("utf-8")
    encoded = base64.encodebytes(raw) if cte == "base64" else quopri.encodestring(raw)
    plain = check_bounce(HEADERS.format(cte="8bit") + body)
    sent = check_bounce(HEADERS.format(cte=cte) + encoded.decode("ascii"))
    seen = ("final_recipient", "remote_reply", "smtp_code", "enhanced_status", "action", "gmail_send_as")
    assert {k: getattr(sent, k) for k in seen} == {k: getattr(plain, k) for k in seen}
    assert classify(sent).layer == classify(plain).layer


# --- inputs -------------------------------------------------------------------------------------------------

INPUTS_FLOW = parse_flow_text(
    textwrap.dedent("""\
        name: gen
        title: Generated inputs
        description: one input of every kind
        inputs:
          sender: {description: s, required: true, kind: email}
          domain: {description: d, kind: domain}
          region: {description: r, kind: region, default_from: aws-region, default: us-east-1}
          pathway: {description: p, kind: choice, choices: [api, smtp, gmail-send-as]}
          smtp_username: {description: u, kind: access-key-id}
          smtp_password: {description: pw, secret: true}
          bounce: {description: b, kind: multiline}
          note: {description: n}
        start: ask
        nodes:
          ask:
            kind: question
            title: Which way
            key: pathway
            prompt: Which way?
            options: [{value: api, label: API}, {value: smtp, label: SMTP}]
            next: {api: done, smtp: done}
          done:
            kind: end
        """),
    "gen.yaml",
)
NAMES = sorted(INPUTS_FLOW.inputs)
RAW_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "admin@example.com",
            "us-east-1",
            "us-east-9",
            "AKIAIOSFODNN7EXAMPLE",
            "smtp",
            "@",
            "@-",
            "@~nobody/x",
            "@/",
            "@\x00",
        ]
    ),
)
BYTES = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).flatmap(
        lambda t: st.sampled_from(
            ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252"]
        ).map(lambda enc: t.encode(enc, errors="replace"))
    ),
)


@bounded("inputs_sets")
@given(
    st.lists(
        st.one_of(
            st.text(max_size=30),
            st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=8)), RAW_VALUES).map("=".join),
        ),
        max_size=6,
    ),
    st.binary(max_size=200),
)
def test_set_pairs_give_values_or_an_input_error(pairs: list[str], stdin: bytes) -> None:
    try:
        values = parse_sets(
            pairs, INPUTS_FLOW, stdin=io.TextIOWrapper(io.BytesIO(stdin)), prompt_to=io.StringIO()
        )
    except InputError as exc:
        event("refused with InputError")
        assert_own_error(exc)
        assert "\n" not in str(exc)
    else:
        event("values")
        assert set(values) <= set(NAMES)
        assert all(isinstance(v, str) for v in values.values())
        assert "smtp_password" not in values or any(p.startswith("smtp_password=@") for p in pairs)


@bounded("inputs_files")
@given(BYTES, st.sampled_from(NAMES))
def test_input_files_of_any_bytes_give_text_or_an_input_error(data: bytes, name: str) -> None:
    path = _scratch_file(data, ".txt")
    try:
        text = read_input_file(name, str(path))
    except InputError as exc:
        event("refused: not text")
        assert str(exc).startswith(f"input '{name}': {path} is not text (")
        assert "\n" not in str(exc)
    else:
        event("read as text")
        assert isinstance(text, str)
        assert parse_sets([f"{name}=@{path}"], INPUTS_FLOW)[name] in (text, text.rstrip("\r\n"))
    finally:
        path.unlink()


@bounded("inputs_resolve")
@given(
    st.dictionaries(st.sampled_from(NAMES), st.text(max_size=40), max_size=8),
    st.one_of(
        st.none(), st.sampled_from(["us-east-1", "us-east-9", "eu-west-1", "x", ""]), st.text(max_size=12)
    ),
    st.dictionaries(
        st.sampled_from([f"MAILDOCTOR_INPUT_{n.upper()}" for n in NAMES] + ["OTHER"]),
        st.text(max_size=20),
        max_size=4,
    ),
    st.booleans(),
)
def test_resolve_gives_valid_values_or_an_input_error(
    sets: dict[str, str], region: str | None, env: dict[str, str], require: bool
) -> None:
    try:
        values = resolve(INPUTS_FLOW, sets, Settings(region=region or None), env, require=require)
    except InputError as exc:
        event("refused with InputError")
        assert require
        assert_own_error(exc)
        assert "\n" not in str(exc)
    else:
        event("values")
        assert set(values) <= set(NAMES)
        if require:
            assert values.get("sender")  # the required input is there


@bounded("decode_bytes")
@given(BYTES)
def test_decode_text_gives_text_or_says_it_is_not(data: bytes) -> None:
    try:
        text = decode_text(data)
    except NotText as exc:
        assert str(exc)
    else:
        assert isinstance(text, str)
        controls = sum(1 for c in text if ord(c) < 0x20 and c not in "\t\n\r\x0b\x0c\x1b")
        assert controls <= 1 + len(text) // 100  # what is read as text reads like text


@bounded("decode_round_trip")
@given(
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_categories=["Cc", "Cs"]),
        min_size=1,
        max_size=200,
    ),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1"]),
)
def test_text_in_a_supported_encoding_reads_back_as_written(text: str, encoding: str) -> None:
    """UTF-8 and UTF-16/32 (with a BOM, or UTF-16 without one for mostly-ASCII text), and Latin-1 text
    that is not also valid UTF-8."""
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        assume(False)
        return
    if encoding in ("utf-16-le", "utf-16-be"):
        # without a BOM, UTF-16 is told by its NUL bytes: text mostly in the Latin-1 range (high byte
        # NUL), with few characters like U+0100 whose low byte is NUL
        assume(sum(ord(c) < 0x100 for c in text) >= 0.5 * len(text))
        assume(sum(ord(c) % 0x100 == 0 for c in text) <= 0.05 * len(text))
    if encoding == "latin-1":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            assume(False)  # bytes that are valid UTF-8 are read as UTF-8
    assert decode_text(data) == text
