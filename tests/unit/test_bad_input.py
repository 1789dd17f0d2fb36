"""Bad input is one line and a CONTRACT.md exit code, never a traceback (issue 9, item 5), and the
headless progress lines (item 7): input files in any encoding, binary and oversized files, stdin on a
terminal, base64 / quoted-printable bounces, --output checked before the walk and a report never lost,
transcript export of what is not a transcript, region names, and when progress is shown.

The CLI runs a flow whose only check reads text (bounce.triage), so no network is needed."""

from __future__ import annotations

import base64
import io
import json
import quopri
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from maildoctor import headless, inputs
from maildoctor.bounce import classify, parse_bounce
from maildoctor.checks.registry import default_registry
from maildoctor.cli import main
from maildoctor.clients.settings import Settings
from maildoctor.flow.load import parse_flow_text
from maildoctor.flow.model import Flow
from maildoctor.inputs import InputError, NotText, decode_text, parse_sets

REPLY = "535 Authentication Credentials Invalid"
BOUNCE = textwrap.dedent(f"""\
    From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
    Subject: Delivery Status Notification (Failure)

    Grüße — the message was not delivered.
    The response from the remote server was:
    {REPLY}
    """)


def _routes() -> str:
    """Every outcome of bounce.triage routed: credentials to the remedy, the others to the end."""
    outcomes = sorted({*default_registry()["bounce.triage"].outcomes, "error"})
    return ", ".join(f"{o}: {'fix' if o == 'credentials' else 'done'}" for o in outcomes)


FLOW = textwrap.dedent("""\
    name: t
    title: Test flow
    description: bad input test
    inputs:
      bounce: {description: the bounce, kind: multiline}
      region: {description: the sending region, kind: region, default_from: aws-region, default: us-east-1}
      password: {description: pw, secret: true}
    start: read
    nodes:
      read:
        kind: check
        title: Read the bounce
        check: bounce.triage
        args: {bounce: "{bounce}"}
        next: {ROUTES}
      fix:
        kind: remedy
        title: Login refused
        code: smtp-password-wrong
        summary: "{read.remote_reply}"
        remedy: set the password again
        continue: done
      done:
        kind: end
    """).replace("{ROUTES}", "{" + _routes() + "}")


@pytest.fixture
def flow_file(tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test flow on disk, a private state directory, and no region from the environment."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "MAILDOCTOR_INPUT_BOUNCE", "MAILDOCTOR_INPUT_REGION"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "t.yaml"
    path.write_text(FLOW, encoding="utf-8")
    return path


@pytest.fixture
def flow(flow_file: Path) -> Flow:
    return parse_flow_text(FLOW, str(flow_file))


def one_line_error(result: Result, code: int = 2) -> str:
    """The run failed with ``code`` and said so in one line on stderr, with no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result.output
    assert lines[0].startswith("maildoctor: ")
    return lines[0]


def transcripts(state_dir: Path) -> list[Path]:
    return sorted((state_dir / "transcripts").glob("*.jsonl"))


# --- input files in any encoding ---------------------------------------------------------------------

ENCODED = {
    "utf-8": BOUNCE.encode("utf-8"),
    "utf-8 with BOM": b"\xef\xbb\xbf" + BOUNCE.encode("utf-8"),
    "utf-16 LE with BOM": b"\xff\xfe" + BOUNCE.encode("utf-16-le"),
    "utf-16 BE with BOM": b"\xfe\xff" + BOUNCE.encode("utf-16-be"),
    "utf-16 LE without BOM": BOUNCE.encode("utf-16-le"),
    "utf-16 BE without BOM": BOUNCE.encode("utf-16-be"),
    "utf-16 with CRLF line ends": BOUNCE.replace("\n", "\r\n").encode("utf-16"),
    "latin-1": BOUNCE.replace("—", "-").encode("latin-1"),
}


@pytest.mark.parametrize("name", ENCODED)
def test_input_files_in_any_encoding_are_read_as_text(name: str, flow: Flow, tmp_path: Path) -> None:
    path = tmp_path / "bounce.eml"
    path.write_bytes(ENCODED[name])
    value = parse_sets([f"bounce=@{path}"], flow)["bounce"]
    expected = BOUNCE.replace("—", "-") if name == "latin-1" else BOUNCE
    assert value.replace("\r\n", "\n") == expected
    assert parse_bounce(value).remote_reply == REPLY


def test_windows_1252_punctuation_is_read_as_what_it_shows() -> None:
    # “quoted” – in Windows-1252: the bytes 0x93, 0x94 and 0x96 are not UTF-8 and are C1 controls in Latin-1
    assert decode_text(b"\x93quoted\x94 \x96 caf\xe9") == "\u201cquoted\u201d \u2013 caf\u00e9"


@pytest.mark.parametrize("name", ["utf-16 LE without BOM", "latin-1"])
def test_the_cli_walks_a_bounce_file_in_another_encoding(name: str, flow_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "bounce.txt"
    path.write_bytes(ENCODED[name])
    result = CliRunner().invoke(main, ["run", str(flow_file), "--set", f"bounce=@{path}", "--format", "json"])
    assert result.exit_code == 1, result.output  # the 535 is a finding
    data = json.loads(result.stdout)
    assert data["steps"][0]["facts"]["remote_reply"] == REPLY


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (PNG, "it looks like a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", "it looks like a JPEG image"),
        (b"abc\x00\x00\x01\x02\x00def\x00\x00\x00\x00\x00\x07\x00\xff", "it has NUL bytes and is not UTF-16"),
        (bytes(range(1, 32)) * 4, "control characters"),
    ],
)
def test_a_binary_bounce_file_is_refused_in_one_line(
    data: bytes, why: str, flow_file: Path, tmp_path: Path, state_dir: Path
) -> None:
    path = tmp_path / "bounce.bin"
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["run", str(flow_file), "--set", f"bounce=@{path}"])
    line = one_line_error(result)
    assert line.startswith(f"maildoctor: input 'bounce': {path} is not text (")
    assert why in line
    assert transcripts(state_dir) == []  # nothing walked


def test_an_input_file_over_the_size_limit_is_refused_naming_the_limit(
    flow_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "mailbox.mbox"
    path.write_bytes(b"x" * (inputs.MAX_INPUT_BYTES + 1))
    line = one_line_error(CliRunner().invoke(main, ["run", str(flow_file), "--set", f"bounce=@{path}"]))
    assert line.startswith(f"maildoctor: input 'bounce': {path} is larger than 1 MiB")
    exactly = tmp_path / "exactly.txt"
    exactly.write_bytes(b"x" * inputs.MAX_INPUT_BYTES)  # at the limit: still read
    assert len(inputs.read_input_file("bounce", str(exactly))) == inputs.MAX_INPUT_BYTES


def test_missing_folder_and_unreadable_input_files(flow_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.eml"
    line = one_line_error(CliRunner().invoke(main, ["run", str(flow_file), "--set", f"bounce=@{missing}"]))
    assert line == f"maildoctor: input 'bounce': {missing} does not exist"
    line = one_line_error(CliRunner().invoke(main, ["run", str(flow_file), "--set", f"bounce=@{tmp_path}"]))
    assert line == f"maildoctor: input 'bounce': {tmp_path} is a folder, not a file"
    line = one_line_error(CliRunner().invoke(main, ["run", str(flow_file), "--set", "bounce=@"]))
    assert "needs a file name after the @" in line
    if Path("/proc/self/mem").exists():  # unreadable even for root: reading at offset 0 is an I/O error
        line = one_line_error(
            CliRunner().invoke(main, ["run", str(flow_file), "--set", "bounce=@/proc/self/mem"])
        )
        assert line.startswith("maildoctor: input 'bounce': cannot read /proc/self/mem (")


# --- stdin ---------------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_stdin_on_a_terminal_prompts_for_the_paste(flow: Flow) -> None:
    stdin, prompts = Terminal(BOUNCE), io.StringIO()
    values = parse_sets(["bounce=@-"], flow, stdin=stdin, prompt_to=prompts)
    assert prompts.getvalue() == "Paste the bounce, then Ctrl-D:\n"
    assert values["bounce"] == BOUNCE


def test_a_secret_from_stdin_on_a_terminal_is_read_without_echo(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def hidden(prompt: str, stream: object = None) -> str:
        asked.append(prompt)
        return "BHiddenSecret"

    monkeypatch.setattr(inputs.getpass, "getpass", hidden)
    stdin, prompts = Terminal("echoed-text-must-not-be-read"), io.StringIO()
    values = parse_sets(["password=@-"], flow, stdin=stdin, prompt_to=prompts)
    assert values == {"password": "BHiddenSecret"}
    assert len(asked) == 1 and "password" in asked[0]
    assert stdin.tell() == 0  # the echoing stream was not read
    assert prompts.getvalue() == ""


def test_piped_stdin_is_decoded_like_a_file_and_read_once(flow_file: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["run", str(flow_file), "--set", "bounce=@-", "--format", "json"],
        input=b"\xff\xfe" + BOUNCE.encode("utf-16-le"),
    )
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["steps"][0]["facts"]["remote_reply"] == REPLY
    assert "Paste the" not in result.stderr  # a pipe gets no prompt
    result = runner.invoke(
        main, ["run", str(flow_file), "--set", "bounce=@-", "--set", "password=@-"], input="x\n"
    )
    line = one_line_error(result)
    assert "stdin is already read for 'bounce'" in line
    result = runner.invoke(main, ["run", str(flow_file), "--set", "bounce=@-"], input=PNG)
    assert one_line_error(result).startswith("maildoctor: input 'bounce': stdin is not text (")


# --- bounces sent as base64 or quoted-printable --------------------------------------------------------

DSN_BODY = textwrap.dedent("""\
    This is the mail system at host mx.example.net. Your message could not be delivered.

    Reporting-MTA: dns; mx.example.net
    Final-Recipient: rfc822; guest@example.net
    Action: failed
    Status: 5.1.1
    Diagnostic-Code: smtp; 550 5.1.1 <guest@example.net> User unknown — no mailbox here
    """)


def _single_part(encoding: str, body: str, subtype: str = "plain") -> str:
    if encoding == "base64":
        encoded = base64.encodebytes(body.encode("utf-8")).decode("ascii")
    else:
        encoded = quopri.encodestring(body.encode("utf-8")).decode("ascii")
    return (
        "From: MAILER-DAEMON@mx.example.net\nTo: admin@example.com\nSubject: Undelivered Mail\n"
        f"MIME-Version: 1.0\nContent-Type: text/{subtype}; charset=utf-8\n"
        f"Content-Transfer-Encoding: {encoding}\n\n{encoded}"
    )


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable"])
def test_a_single_part_bounce_in_base64_or_quoted_printable_is_decoded(encoding: str) -> None:
    text = _single_part(encoding, DSN_BODY)
    assert "guest@example.net" not in text if encoding == "base64" else "=E2=80=94" in text
    bounce = parse_bounce(text)
    assert bounce.final_recipient == "guest@example.net"
    assert bounce.reply_line == "550 5.1.1 <guest@example.net> User unknown — no mailbox here"
    assert (bounce.smtp_code, bounce.enhanced_status, bounce.source) == (550, "5.1.1", "dsn")
    assert bounce.subject == "Undelivered Mail"
    assert classify(bounce, text).layer == "recipient"


def test_a_base64_html_bounce_is_read_without_its_tags() -> None:
    html = f"<html><body><p>The response from the remote server was:</p><p>{REPLY}</p></body></html>"
    bounce = parse_bounce(_single_part("base64", html, "html"))
    assert bounce.remote_reply == REPLY
    assert classify(bounce).layer == "credentials"


def test_an_unencoded_single_part_bounce_reads_as_before() -> None:
    text = _single_part("base64", DSN_BODY).replace("base64", "8bit").split("\n\n")[0] + "\n\n" + DSN_BODY
    bounce = parse_bounce(text)
    assert (bounce.final_recipient, bounce.smtp_code) == ("guest@example.net", 550)


# --- --output --------------------------------------------------------------------------------------------


def test_a_bad_output_is_refused_before_anything_is_walked(
    flow_file: Path, tmp_path: Path, state_dir: Path
) -> None:
    bounce = tmp_path / "b.txt"
    bounce.write_text(BOUNCE)
    missing = tmp_path / "no-such-folder" / "report.json"
    result = CliRunner().invoke(
        main, ["run", str(flow_file), "--set", f"bounce=@{bounce}", "-o", str(missing)]
    )
    line = one_line_error(result)
    assert line == f"maildoctor: --output {missing}: the folder {missing.parent} does not exist"
    result = CliRunner().invoke(
        main, ["run", str(flow_file), "--set", f"bounce=@{bounce}", "-o", str(tmp_path)]
    )
    assert "is a folder; give a file name" in one_line_error(result)
    result = CliRunner().invoke(main, ["run", str(flow_file), "-o", str(bounce / "r.json")])
    assert f"{bounce} is not a folder" in one_line_error(result)
    assert result.stdout == ""
    assert transcripts(state_dir) == []  # no walk started, not even its autosave


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_report_that_cannot_be_written_after_the_walk_is_saved_in_the_state_dir(
    flow_file: Path, tmp_path: Path, state_dir: Path
) -> None:
    bounce = tmp_path / "b.txt"
    bounce.write_text(BOUNCE)
    args = ["run", str(flow_file), "--set", f"bounce=@{bounce}", "--format", "json"]
    good = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "ok.json")])
    assert good.exit_code == 1, good.output
    # /dev/full passes every check before the walk (it exists, is writable) and fails the write: ENOSPC
    before = set(transcripts(state_dir))
    result = CliRunner().invoke(main, [*args, "-o", "/dev/full"])
    assert result.exit_code == good.exit_code  # the walk's, not an error's
    assert "Traceback" not in result.output
    (new,) = set(transcripts(state_dir)) - before
    session = new.stem
    saved = state_dir / "reports" / f"{session}.json"
    assert (
        f"maildoctor: could not write the report to /dev/full (No space left on device); saved it to {saved}"
        in result.stderr
    )
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["session"] == session
    assert data["steps"][0]["facts"]["remote_reply"] == REPLY


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_with_no_state_dir_either_the_report_goes_to_stdout(
    flow_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILDOCTOR_STATE_DIR", "/dev/full/state")  # cannot be created
    bounce = tmp_path / "b.txt"
    bounce.write_text(BOUNCE)
    args = ["run", str(flow_file), "--set", f"bounce=@{bounce}", "--format", "json", "-o", "/dev/full"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["steps"][0]["facts"]["remote_reply"] == REPLY
    assert "it is printed on stdout instead" in result.stderr


# --- transcript export -----------------------------------------------------------------------------------


def _export(path: Path | str, *more: str) -> Result:
    return CliRunner().invoke(main, ["transcript", "export", str(path), "--format", "json", *more])


def _saved_transcript(flow_file: Path, tmp_path: Path, state_dir: Path) -> Path:
    bounce = tmp_path / "b.txt"
    bounce.write_text(BOUNCE)
    before = set(transcripts(state_dir))
    result = CliRunner().invoke(
        main, ["run", str(flow_file), "--set", f"bounce=@{bounce}", "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    (new,) = set(transcripts(state_dir)) - before
    return new


def test_export_of_what_is_not_a_transcript_is_one_line(
    flow_file: Path, tmp_path: Path, state_dir: Path
) -> None:
    good = _saved_transcript(flow_file, tmp_path, state_dir)
    assert json.loads(_export(good).stdout)["steps"][0]["facts"]["remote_reply"] == REPLY
    lines = good.read_text(encoding="utf-8").splitlines()

    cases: dict[str, tuple[bytes, str]] = {
        "png": (PNG, "not a maildoctor transcript (binary data, NUL bytes)"),
        "latin1": ("café\n".encode("latin-1"), "not a maildoctor transcript (not UTF-8 text)"),
        "prose": (b"hello\nworld\n", ":1: not a transcript line (not JSON)"),
        "list": (b"[1, 2, 3]\n", ":1: not a transcript line (no record type)"),
        "json-without-session": (b'{"type": "end", "complete": true}\n', "not a transcript line (a end line"),
        "no-session": (b'{"a": 1, "type": "other"}\n', "not a maildoctor transcript (no session line)"),
        "step-without-index": (
            (lines[0] + "\n" + json.dumps({"type": "step", "node": "x"}) + "\n").encode(),
            ":2: not a transcript line (a step line without its 'index' field)",
        ),
        "bad-evidence": (
            (lines[0] + "\n" + lines[1].replace('"evidence": [', '"evidence": [7, ') + "\n").encode(),
            ":2: not a transcript line (a step line whose evidence is not a list of {title, text})",
        ),
    }
    for name, (data, expected) in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(data)
        line = one_line_error(_export(path))
        assert expected in line, (name, line)

    missing = tmp_path / "gone.jsonl"
    assert one_line_error(_export(missing)) == f"maildoctor: {missing}: no such file"
    assert one_line_error(_export(tmp_path)) == f"maildoctor: {tmp_path}: is a folder, not a transcript file"
    if Path("/proc/self/mem").exists():
        assert "cannot read" in one_line_error(_export("/proc/self/mem"))


def test_export_to_a_place_that_cannot_be_written_is_one_line(
    flow_file: Path, tmp_path: Path, state_dir: Path
) -> None:
    good = _saved_transcript(flow_file, tmp_path, state_dir)
    target = tmp_path / "missing" / "out.md"
    assert one_line_error(_export(good, "-o", str(target))).endswith(
        f"the folder {target.parent} does not exist"
    )
    if Path("/dev/full").exists():
        line = one_line_error(_export(good, "-o", "/dev/full"))
        assert (
            line
            == f"maildoctor: cannot write /dev/full: No space left on device (the transcript {good} is unchanged)"
        )


def test_a_torn_last_line_is_still_tolerated(flow_file: Path, tmp_path: Path, state_dir: Path) -> None:
    good = _saved_transcript(flow_file, tmp_path, state_dir)
    torn = tmp_path / "torn.jsonl"
    torn.write_text(good.read_text(encoding="utf-8") + '{"type": "step", "ind', encoding="utf-8")
    result = _export(torn)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"][0]["facts"]["remote_reply"] == REPLY


# --- regions -------------------------------------------------------------------------------------------


def test_a_region_botocore_does_not_know_for_ses_is_refused(
    flow_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounce = tmp_path / "b.txt"
    bounce.write_text(BOUNCE)
    base = ["run", str(flow_file), "--set", f"bounce=@{bounce}", "--format", "json"]
    line = one_line_error(CliRunner().invoke(main, [*base, "--set", "region=us-east-9"]))
    assert line == (
        "maildoctor: input 'region': 'us-east-9' is not an SES region (not a region botocore knows); "
        "did you mean us-east-1 or us-east-2?"
    )
    line = one_line_error(CliRunner().invoke(main, [*base, "--region", "us-east-9"]))
    assert line.startswith(
        "maildoctor: input 'region' (from --region, AWS_REGION or AWS_DEFAULT_REGION): 'us-east-9' is not an SES region"
    )
    monkeypatch.setenv("AWS_REGION", "eu-nowhere-1")
    line = one_line_error(CliRunner().invoke(main, base))
    assert "'eu-nowhere-1' is not an SES region" in line
    line = one_line_error(CliRunner().invoke(main, [*base, "--set", "region=useast1"]))
    assert line == "maildoctor: input 'region': 'useast1' is not an AWS region name (like us-east-1)"
    ok = CliRunner().invoke(main, [*base, "--set", "region=eu-west-1"])
    assert ok.exit_code == 1, ok.output  # accepted: the walk ran to its finding


def test_region_names_from_every_partition_with_ses() -> None:
    assert inputs.region_problem("us-east-1") is None
    assert inputs.region_problem("us-gov-west-1") is None  # aws-us-gov
    assert (inputs.region_problem("us-east-9") or "").endswith("; did you mean us-east-1 or us-east-2?")
    assert inputs.region_problem("US-EAST-1") == "'US-EAST-1' is not an AWS region name (like us-east-1)"


def test_a_region_without_ses_is_said_so_with_the_nearest_ses_regions() -> None:
    # ap-east-1 (Hong Kong) is an AWS region botocore knows, without an SES endpoint in its data
    assert "ap-east-1" not in inputs.ses_regions() and "ap-east-1" in inputs.aws_regions()
    problem = inputs.region_problem("ap-east-1") or ""
    assert problem.startswith("'ap-east-1' is not an SES region (an AWS region without SES); did you mean ")
    assert "ap-east-2" in problem and len(problem) < 160  # the nearest ones, not all 36
    assert inputs.nearest_ses_regions("eu-nowhere-1") == ["eu-central-1", "eu-central-2", "eu-north-1"]


# --- progress ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "stderr_is_terminal", "shown"),
    [
        ("text", True, True),
        ("text", False, False),
        ("json", True, False),
        ("markdown", True, False),
        ("json", False, False),
    ],
)
def test_when_progress_is_shown(fmt: str, stderr_is_terminal: bool, shown: bool) -> None:
    assert headless.shows_progress(fmt, stderr_is_terminal) is shown


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_progress_lines_on_a_terminal_only_for_text(
    fmt: str, flow: Flow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr, stdout = Terminal(), Terminal()  # both on a terminal: the case that printed nothing before
    monkeypatch.setattr("sys.stderr", stderr)
    monkeypatch.setattr("sys.stdout", stdout)
    code = headless.run(flow, {"bounce": BOUNCE}, Settings(state_dir=tmp_path), fmt=fmt)
    assert code == 1
    finished = [line for line in stderr.getvalue().splitlines() if "Read the bounce: " in line]
    if fmt == "text":
        assert len(finished) == 1 and finished[0].startswith("\x1b[2K")  # the step, once, as it finished
        assert stdout.getvalue().startswith("")  # the report itself still goes to stdout
    else:
        assert stderr.getvalue() == "" or "Read the bounce" not in stderr.getvalue()
        assert json.loads(stdout.getvalue())["steps"][0]["facts"]["remote_reply"] == REPLY


def test_no_progress_on_a_pipe(flow: Flow, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = headless.run(flow, {"bounce": BOUNCE}, Settings(state_dir=tmp_path), fmt="text")
    assert code == 1
    assert capsys.readouterr().err == ""


def test_decode_text_refuses_what_is_not_text() -> None:
    with pytest.raises(NotText, match="PNG"):
        decode_text(PNG)
    assert decode_text(b"") == ""
    assert decode_text(b"ok\x1a") == "ok\x1a"  # one DOS end-of-file mark is still text


def test_input_errors_are_input_errors(flow: Flow) -> None:
    with pytest.raises(InputError, match="expected KEY=VALUE"):
        parse_sets(["novalue"], flow)


@pytest.mark.usefixtures("state_dir")
def test_a_name_too_long_for_a_file_is_one_line() -> None:
    long = "x" * 300  # longer than a file name may be (ENAMETOOLONG)
    line = one_line_error(CliRunner().invoke(main, ["run", long]))
    assert line.startswith(f"maildoctor: no flow named '{long}' (shipped flows: ")
    assert one_line_error(_export(long)).startswith(f"maildoctor: no transcript '{long}'")


def test_transcript_list_skips_files_that_are_not_transcripts(
    flow_file: Path, tmp_path: Path, state_dir: Path
) -> None:
    good = _saved_transcript(flow_file, tmp_path, state_dir)
    (state_dir / "transcripts" / "junk.jsonl").write_bytes(PNG)
    (state_dir / "transcripts" / "latin1.jsonl").write_bytes("café\n".encode("latin-1"))
    result = CliRunner().invoke(main, ["transcript", "list"])
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == [good.stem]  # under the header
