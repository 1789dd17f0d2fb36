"""Command-line interface (CONTRACT.md). Imports the TUI and the lab lazily: `run` never loads textual."""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from maildoctor import __version__, audit_command

if TYPE_CHECKING:
    from maildoctor.flow.model import Flow, InputSpec
    from maildoctor.transcript import SessionInfo

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130

CONNECTION_OPTIONS = (
    "profile",
    "region",
    "aws_endpoint_url",
    "dns_server",
    "smtp_endpoint",
    "smtp_ca_file",
    "smtp_tls",
    "state_dir",
    "timeout",
)


class Failure(click.ClickException):
    """A clear one-line error with CONTRACT.md's exit status."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click declares it on the class

    def show(self, file: Any = None) -> None:
        click.echo(f"maildoctor: {self.message}", err=True)


def connection_options(fn: F) -> F:
    """CONTRACT.md's 'where it connects' options, accepted by the top level and by every command."""
    options = [
        click.option("--profile", help="AWS profile (default: AWS_PROFILE, then boto3's usual chain)."),
        click.option(
            "--region",
            help="AWS region that sends (default: AWS_REGION / AWS_DEFAULT_REGION, then the profile's region).",
        ),
        click.option(
            "--aws-endpoint-url", metavar="URL", help="One endpoint for every AWS service (AWS_ENDPOINT_URL)."
        ),
        click.option(
            "--dns-server",
            metavar="HOST[:PORT]",
            help="DNS server to ask (MAILDOCTOR_DNS_SERVER; default: system resolver).",
        ),
        click.option(
            "--smtp-endpoint",
            metavar="HOST:PORT",
            help="SES SMTP endpoint (MAILDOCTOR_SMTP_ENDPOINT; default email-smtp.<region>.amazonaws.com:587).",
        ),
        click.option(
            "--smtp-ca-file", metavar="PATH", help="Extra CA to trust for SMTP TLS (MAILDOCTOR_SMTP_CA_FILE)."
        ),
        click.option(
            "--smtp-tls",
            type=click.Choice(["starttls", "implicit"], case_sensitive=False),
            help="SMTP TLS: starttls (25, 587, 2587) or implicit, TLS from the first byte (MAILDOCTOR_SMTP_TLS; "
            "default implicit on ports 465 and 2465, else starttls).",
        ),
        click.option(
            "--state-dir", metavar="PATH", help="Where transcripts are saved (MAILDOCTOR_STATE_DIR)."
        ),
        click.option(
            "--timeout",
            metavar="SECONDS",
            help="How long one network answer may take (MAILDOCTOR_TIMEOUT; default 10).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _settings(ctx: click.Context, **given: Any) -> Any:
    """Settings from this command's options, falling back to the top-level ones, then the environment."""
    from maildoctor.clients.settings import Settings, SettingsError

    merged: dict[str, Any] = {}
    root = ctx.find_root().params
    for name in CONNECTION_OPTIONS:
        merged[name] = given.get(name) or root.get(name)
    try:
        return Settings.resolve(**merged)
    except SettingsError as exc:
        raise Failure(str(exc)) from None


def _guard(fn: F) -> F:
    """Turn our own errors into one-line messages with the right exit status, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from maildoctor.errors import MaildoctorError
        from maildoctor.flow.load import FlowErrors

        try:
            return fn(*args, **kwargs)
        except FlowErrors as exc:
            for error in exc.errors:
                click.echo(str(error), err=True)
            raise click.exceptions.Exit(exc.exit_code) from None
        except MaildoctorError as exc:
            raise Failure(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            click.echo("maildoctor: interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except OSError as exc:  # a path given on the command line the system refuses (too long, ...)
            name = "" if exc.filename is None else str(exc.filename)
            where = f"{name if name.isprintable() else repr(name)}: " if name else ""
            raise Failure(f"{where}{exc.strerror or exc}") from None

    return wrapper  # type: ignore[return-value]


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="maildoctor")
@click.option("--flow", "flow_name", metavar="NAME", help="Open the TUI straight into this flow.")
@click.option("--set", "sets", multiple=True, metavar="K=V", help="Fill an input (K=@FILE or K=@- reads it).")
@connection_options
@click.pass_context
@_guard
def main(ctx: click.Context, flow_name: str | None, sets: tuple[str, ...], **_: Any) -> None:
    """Find out why mail from your domain stopped arriving.

    With no command, opens the interactive walk (TUI). Each step runs a live check against AWS SES, DNS,
    IAM, CloudTrail or the SES SMTP endpoint, shows the evidence and branches to the next layer.

    \b
    Exit status: 0 all clear · 1 at least one finding · 2 usage or flow error ·
                 3 the walk could not finish · 130 interrupted
    """
    if ctx.invoked_subcommand is not None:
        return
    ctx.exit(_open_tui(ctx, flow_name, sets))


def _open_tui(ctx: click.Context, flow_name: str | None, sets: tuple[str, ...]) -> int:
    """The TUI, prefilled from the config file, MAILDOCTOR_INPUT_* and --set (in that order)."""
    from maildoctor import inputs
    from maildoctor.config import load_config
    from maildoctor.flow.load import builtin_flow_paths, find_flow, load_flow, read_flow

    settings = _settings(ctx)
    # the picker needs only the flows' inputs (read_flow: no check module before the first frame); the
    # flow picked is validated in full when it opens, a flow named here at once
    flows = [load_flow(find_flow(flow_name))] if flow_name else [read_flow(p) for p in builtin_flow_paths()]
    specs = {name: spec for flow in flows for name, spec in flow.inputs.items()}
    config = load_config(secret_names={n for n, spec in specs.items() if spec.secret})
    prefill = {k: v for k, v in config.inputs.items() if k in specs}
    prefill |= inputs.from_env(specs, os.environ)
    prefill |= inputs.parse_sets(sets, flows[0] if flow_name else specs)
    return _run_tui(flow=flow_name, prefill=prefill, settings=settings, config=config)


def _run_tui(**kwargs: Any) -> int:
    try:
        from maildoctor.tui.app import run_tui
    except ImportError as exc:  # pragma: no cover - textual is a core dependency
        raise Failure(f"the terminal UI cannot start: {exc}") from None
    from maildoctor.clients import credentials
    from maildoctor.session import prepare_credentials

    config = kwargs.pop("config")
    settings = kwargs["settings"]
    if credentials.may_prompt(settings.profile):
        problem = prepare_credentials(None, settings)  # in the foreground: an MFA code is asked for here
        if problem is not None:
            click.echo(f"maildoctor: {problem} (the AWS layers will be reported as not checked)", err=True)
        return run_tui(keymap=dict(config.keymap), theme=config.theme, **kwargs)

    # nothing to ask: the credentials are resolved beside the first screen, not before it (boto3 and the
    # chain cost ~0.25 s); a walk that needs them before they are ready waits for them
    def resolve_beside() -> None:
        threading.Thread(target=credentials.resolve, args=(settings.profile,), daemon=True).start()

    return run_tui(keymap=dict(config.keymap), theme=config.theme, on_ready=resolve_beside, **kwargs)


# --- run ----------------------------------------------------------------------------------------------

HELP_FLOW = "maildoctor.help_flow"  # ctx.meta key: the flow `run FLOW --help` describes

# What to write after `--set NAME=` for each kind of input (secrets and long texts: from a file)
INPUT_METAVARS = {
    "email": "ADDRESS",
    "domain": "DOMAIN",
    "region": "REGION",
    "access-key-id": "KEY_ID",
    "multiline": "@FILE",
}


class RunCommand(click.Command):
    """`run`'s help: with a FLOW before --help it lists that flow's inputs, without one the shipped flows."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            ctx.meta[HELP_FLOW] = _flow_named_for_help(self, ctx, args)
        return super().parse_args(ctx, args)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help_text(ctx, formatter)
        flow = ctx.meta.get(HELP_FLOW)
        if flow is None:
            _write_shipped_flows(formatter)
        else:
            _write_inputs(flow, formatter)


def _flow_named_for_help(command: click.Command, ctx: click.Context, args: list[str]) -> Flow | None:
    """The flow that `run FLOW --help` names, loaded (None without --help or FLOW). Read with click's
    own parser, so option values (`--format json`) are not taken for the flow; an unknown flow is the
    usual one-line error, exit status 2."""
    try:
        opts, _, _ = command.make_parser(ctx).parse_args(args=list(args))
    except click.UsageError:
        return None  # the real parse reports it
    help_option = command.get_help_option(ctx)
    ref = opts.get("flow_ref")  # click's UNSET sentinel when FLOW is not given
    if help_option is None or opts.get(help_option.name or "") is not True or not isinstance(ref, str):
        return None
    flow: Flow = _guard(_load_flow_ref)(ref)
    return flow


def _load_flow_ref(ref: str) -> Flow:
    from maildoctor.flow.load import find_flow, load_flow

    return load_flow(find_flow(ref))


def _write_inputs(flow: Flow, formatter: click.HelpFormatter) -> None:
    with formatter.section(f"Inputs of {flow.name}"):
        formatter.write_text(f"{flow.title}.")
        formatter.write_paragraph()
        formatter.write_text(
            "Give each with --set NAME=VALUE, --set NAME=@FILE (read from a file), --set NAME=@- (stdin) "
            "or MAILDOCTOR_INPUT_<NAME> in the environment; a secret is refused as a literal."
        )
        formatter.write_paragraph()
        rows = [
            (f"--set {name}={_input_metavar(spec)}", _input_about(name, spec))
            for name, spec in flow.inputs.items()
        ]
        formatter.write_dl(rows)


def _input_metavar(spec: InputSpec) -> str:
    if spec.secret:
        return "@FILE"
    if spec.kind == "choice" and spec.choices:
        return "|".join(spec.choices)
    return INPUT_METAVARS.get(spec.kind, "VALUE")


def _input_about(name: str, spec: InputSpec) -> str:
    """The description, then click's bracket for what the option table also says: required, default."""
    notes = ["required"] if spec.required else []
    if spec.example and spec.example not in spec.description:
        notes.append(f"e.g. {spec.example}")
    if spec.default_from == "aws-region":
        notes.append("default: the AWS region in effect" + (f", else {spec.default}" if spec.default else ""))
    elif spec.default:
        notes.append(f"default: {spec.default}")
    if spec.secret:
        notes.append(f"secret: from @FILE, @- or MAILDOCTOR_INPUT_{name.upper()}")
    return f"{spec.description}  [{'; '.join(notes)}]" if notes else spec.description


def _write_shipped_flows(formatter: click.HelpFormatter) -> None:
    from maildoctor.errors import MaildoctorError
    from maildoctor.flow.load import builtin_flow_paths, load_flow

    rows = []
    for path in builtin_flow_paths():
        try:
            rows.append((path.stem, load_flow(path).title))
        except MaildoctorError as exc:  # a broken shipped flow still has its name listed
            rows.append((path.stem, f"(does not load: {str(exc).splitlines()[0]})"))
    with formatter.section("Shipped flows"):
        formatter.write_dl(rows)


@main.command(cls=RunCommand)
@click.argument("flow_ref", metavar="FLOW")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="K=V",
    help="Fill an input; K=@FILE reads a file, K=@- reads stdin. Secrets only via @ or MAILDOCTOR_INPUT_<NAME>.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for a terminal, json for scripts (CONTRACT.md), markdown as an incident report.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="Write the report here instead of stdout (checked before the walk).",
)
@connection_options
@click.pass_context
@_guard
def run(
    ctx: click.Context, flow_ref: str, sets: tuple[str, ...], fmt: str, output: Path | None, **conn: Any
) -> None:
    """Walk FLOW without a screen and print the report.

    FLOW is a shipped flow's name (see `maildoctor flows list`) or a path to a flow file;
    `maildoctor run FLOW --help` lists its inputs.
    A question the inputs do not answer stops the walk with exit status 3, naming the input to set.
    """
    from maildoctor import headless, inputs
    from maildoctor.flow.load import find_flow, load_flow

    settings = _settings(ctx, **conn)
    if output is not None:
        headless.check_output(output)  # before stdin is read or anything walked
    flow = load_flow(find_flow(flow_ref))
    given = inputs.parse_sets([*ctx.find_root().params.get("sets", ()), *sets], flow)
    values = inputs.resolve(flow, given, settings, os.environ)
    ctx.exit(headless.run(flow, values, settings, fmt=fmt, output=output))


# --- checks -------------------------------------------------------------------------------------------


@main.group(invoke_without_command=True)
@click.pass_context
def checks(ctx: click.Context) -> None:
    """List the checks that flows can run (with no subcommand), or show one's contract."""
    if ctx.invoked_subcommand is None:
        from maildoctor.checks.registry import default_registry

        registry = default_registry()
        for name in registry:
            spec = registry[name]
            facts = ", ".join(spec.facts.model_fields) or "-"
            click.echo(f"{name:<24} {spec.description}")
            click.echo(f"{'':<24} facts: {facts}")


@checks.command("show")
@click.argument("name")
@_guard
def checks_show(name: str) -> None:
    """Print a check's outcomes, arguments, facts (with what each means) and IAM actions."""
    import difflib

    from maildoctor.checks.reference import describe
    from maildoctor.checks.registry import default_registry

    registry = default_registry()
    if name not in registry:
        hint = difflib.get_close_matches(name, list(registry), n=1)
        also = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise Failure(f"no check named {name!r}{also}; `maildoctor checks` lists them")
    click.echo(describe(registry[name], level="#"))


# --- flows --------------------------------------------------------------------------------------------


@main.group()
def flows() -> None:
    """List, print and validate flows (the decision trees in flows/*.yaml)."""


@flows.command("list")
@_guard
def flows_list() -> None:
    """List the shipped flows with their descriptions."""
    from maildoctor.flow.load import builtin_flow_paths, read_flow

    for path in builtin_flow_paths():
        flow = read_flow(path)  # listing needs the words, not the checks: `flows check` validates
        click.echo(f"{flow.name:<16} {flow.title}")
        click.echo(f"{'':<16} {' '.join(flow.description.split())}")


@flows.command("show")
@click.argument("name")
@_guard
def flows_show(name: str) -> None:
    """Print a flow file (NAME or path)."""
    from maildoctor.flow.load import find_flow, load_flow

    path = find_flow(name)
    load_flow(path)  # refuse to show a broken flow as if it were fine
    click.echo(path.read_text(encoding="utf-8"), nl=False)


@flows.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_guard
def flows_check(paths: tuple[Path, ...]) -> None:
    """Validate flow files (default: the shipped ones); exit status 2 on any error, every error listed."""
    from maildoctor.flow.load import FlowErrors, builtin_flow_paths, load_flow

    targets = list(paths) or builtin_flow_paths()
    failed = 0
    for path in targets:
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        for file in files:
            try:
                load_flow(file)
            except FlowErrors as exc:
                failed += 1
                for error in exc.errors:
                    click.echo(str(error), err=True)
            else:
                click.echo(f"{file}: ok")
    if failed:
        raise click.exceptions.Exit(EXIT_USAGE)


# --- transcripts --------------------------------------------------------------------------------------


@main.group()
def transcript() -> None:
    """Saved sessions: every walk is autosaved as it goes."""


TRANSCRIPT_COLUMNS = ("SESSION", "STARTED", "FLOW", "DIAGNOSIS", "STEPS", "FILE")


@transcript.command("list")
@connection_options
@click.pass_context
@_guard
def transcript_list(ctx: click.Context, **conn: Any) -> None:
    """List saved sessions, newest first: session id, start time, flow, diagnosis, steps, file."""
    from maildoctor.transcript import list_sessions

    settings = _settings(ctx, **conn)
    sessions = list_sessions(settings.resolved_state_dir())
    if not sessions:
        click.echo(f"no saved sessions in {settings.resolved_state_dir()}", err=True)
        return
    rows = [
        (s.session, s.started_at or "-", s.flow, _diagnosis_cell(s), str(s.steps), str(s.path))
        for s in sessions
    ]
    for line in _columns(TRANSCRIPT_COLUMNS, rows):
        click.echo(line)


def _diagnosis_cell(session: SessionInfo) -> str:
    return session.diagnosis if session.complete else f"{session.diagnosis} (unfinished)"


def _columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A header line and the rows, each column as wide as its widest cell (the last one not padded)."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


@transcript.command("export")
@click.argument("ref", metavar="PATH")
@click.option(
    "--format", "fmt", type=click.Choice(["markdown", "json", "html"]), default="markdown", show_default=True
)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write here instead of stdout.")
@connection_options
@click.pass_context
@_guard
def transcript_export(ctx: click.Context, ref: str, fmt: str, output: Path | None, **conn: Any) -> None:
    """Export a saved session (a .jsonl path, a session id, or `latest`)."""
    from maildoctor import headless, render
    from maildoctor import transcript as transcripts

    settings = _settings(ctx, **conn)
    if output is not None:
        headless.check_output(output)
    path = transcripts.resolve(settings.resolved_state_dir(), ref)
    data = transcripts.load(path)
    try:
        text = render.FORMATS[fmt](data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a hand-edited transcript
        raise Failure(f"{path}: not a transcript maildoctor can export ({exc!r})") from None
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            why = exc.strerror or exc
            raise Failure(f"cannot write {output}: {why} (the transcript {path} is unchanged)") from None
        click.echo(f"wrote {output}", err=True)


# --- smtp-password ------------------------------------------------------------------------------------


@main.command("smtp-password")
@click.option(
    "--region", help="The SES region the password is for (default: AWS_REGION / AWS_DEFAULT_REGION)."
)
@_guard
def smtp_password(region: str | None) -> None:
    """Derive the SES SMTP password (SigV4, version byte 0x04) from a secret access key.

    The secret is read from stdin when it is piped, otherwise from a hidden prompt; it never appears
    in argv, shell history or any file. SMTP passwords are region-specific: give the sending region.
    The user name that goes with the password is the access key's id.
    """
    from maildoctor.inputs import REGION_RE
    from maildoctor.smtp_password import smtp_password_v4

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise Failure("--region is needed (or AWS_REGION): SMTP passwords differ per region")
    if not REGION_RE.match(region):
        raise Failure(f"--region {region!r} is not an AWS region name (like us-east-1)")
    if sys.stdin.isatty():
        secret = click.prompt("Secret access key", hide_input=True, err=True)
    else:
        secret = sys.stdin.read()
    secret = secret.strip()
    if not secret:
        raise Failure("no secret access key given (on stdin or at the prompt)")
    if secret.startswith(("AKIA", "ASIA")) and len(secret) == 20:
        raise Failure("that is an access key id; give the secret access key (40 characters)")
    click.echo(smtp_password_v4(secret, region))


# --- iam-policy ---------------------------------------------------------------------------------------


@main.command("iam-policy")
@click.argument("flow_refs", nargs=-1, metavar="[FLOW]...")
@_guard
def iam_policy(flow_refs: tuple[str, ...]) -> None:
    """Print the least-privilege, read-only IAM policy (JSON) that the flows' checks need."""
    from maildoctor.flow.load import builtin_flow_paths, find_flow, load_flow
    from maildoctor.policy import policy_for

    paths = [find_flow(ref) for ref in flow_refs] or builtin_flow_paths()
    click.echo(json.dumps(policy_for([load_flow(p) for p in paths]), indent=2))


# --- lab ----------------------------------------------------------------------------------------------


def scenario_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--scenario",
        "scenario_ref",
        default="seed-incident",
        show_default=True,
        metavar="NAME|PATH",
        help=help,
    )


def fault_options(fn: F) -> F:
    """`--fault NAME`... and `--latency-aws/-dns/-smtp MS`: outages rehearsed in the lab (CONTRACT.md)."""
    ms = click.IntRange(0, 600_000)
    options = [
        click.option(
            "--fault",
            "fault_names",
            multiple=True,
            metavar="NAME",
            help="Inject a fault into the lab (repeatable), e.g. aws-throttle, aws-deny:iam:GetUser, "
            "dns-timeout, smtp-421; `--fault list` names them all.",
        ),
        click.option("--latency-aws", type=ms, metavar="MS", help="Answer every AWS request MS ms late."),
        click.option("--latency-dns", type=ms, metavar="MS", help="Answer every DNS query MS ms late."),
        click.option("--latency-smtp", type=ms, metavar="MS", help="Send every SMTP reply MS ms late."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def chosen_faults(
    fault_names: tuple[str, ...], latency_aws: int | None, latency_dns: int | None, latency_smtp: int | None
) -> list[Any] | None:
    """The faults the options ask for (a bad name: one line, exit 2); None once `--fault list` printed."""
    from maildoctor.lab.faults import catalogue, requested_faults

    if "list" in fault_names:
        click.echo(catalogue())
        return None
    return requested_faults(
        fault_names, latency_aws=latency_aws, latency_dns=latency_dns, latency_smtp=latency_smtp
    )


@main.command()
@scenario_option("A shipped scenario (see --list) or a scenario file.")
@click.option("--list", "list_only", is_flag=True, help="List the shipped scenarios and exit.")
@fault_options
@click.option(
    "--env-file",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Also write the export lines to PATH (mode 600) once every server listens; removed on stop.",
)
@_guard
def lab(
    scenario_ref: str,
    list_only: bool,
    fault_names: tuple[str, ...],
    latency_aws: int | None,
    latency_dns: int | None,
    latency_smtp: int | None,
    env_file: Path | None,
) -> None:
    """Start the local lab in the foreground: an AWS endpoint, a DNS server and an SES-like SMTP server
    on loopback, in the state a scenario describes, with any faults asked for.

    Prints `export VAR=value` lines first (for copy-paste), then serves until Ctrl-C or SIGTERM. For a
    script: `maildoctor lab --env-file lab.env &`, then source lab.env once it exists.
    """
    import signal
    import threading

    from maildoctor.lab.scenario import load_scenario, scenario_paths

    if list_only:
        for path in scenario_paths():
            scenario = load_scenario(str(path))
            click.echo(f"{scenario.name:<24} {scenario.description}")
        return
    faults = chosen_faults(fault_names, latency_aws, latency_dns, latency_smtp)
    if faults is None:
        return
    from maildoctor.lab import Lab, envfile

    if env_file is not None:
        envfile.check_env_file(env_file)
        envfile.remove_env_file(env_file)  # a file an earlier lab left must not pass for this one's
    scenario = load_scenario(scenario_ref)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Lab() as running:
        running.load(scenario)
        running.set_faults(faults)
        lines = envfile.export_lines(running.env())
        try:
            click.echo("\n".join(lines))
            click.echo(f"# maildoctor lab: scenario {scenario.name} ({scenario.description})")
            click.echo(f"# expected diagnosis: {scenario.expect}")
            if running.active_faults:
                click.echo(f"# faults: {' '.join(f.name for f in running.active_faults)}")
            click.echo(f"# stop it: kill {os.getpid()}")
            click.echo(f"# walk it: {walk_hint(scenario, running)}")
            sys.stdout.flush()
            if env_file is not None:
                envfile.write_env_file(env_file, lines)
            envfile.detach_stdout()  # so that `eval "$(maildoctor lab &)"` is not left waiting for the end
            click.echo("maildoctor lab: serving; Ctrl-C stops it", err=True)
            while not stop.wait(0.5):
                pass
        finally:
            if env_file is not None:
                envfile.remove_env_file(env_file)
    click.echo("maildoctor lab: stopped", err=True)


def shlex_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def walk_hint(scenario: Any, running: Any) -> str:
    """The command that walks a scenario. The secret goes through the environment (CONTRACT.md);
    multi-line inputs (a bounce) are written beside the lab's CA file, for --set KEY=@FILE."""
    from maildoctor.flow.load import MAIN_FLOW, builtin_flows_dir, load_flow

    secret = {
        n for n, spec in load_flow(builtin_flows_dir() / f"{MAIN_FLOW}.yaml").inputs.items() if spec.secret
    }
    inputs = scenario.walk_inputs()
    env, sets = [], []
    for key, value in inputs.items():
        if value and key in secret:  # never on a command line (CONTRACT.md): through the environment
            env.append(f"MAILDOCTOR_INPUT_{key.upper()}={shlex_quote(value)} ")
        elif value and "\n" in value:
            sets.append(f"--set {key}=@{shlex_quote(str(running.write_input(key, value)))}")
        elif value:
            sets.append(f"--set {key}={shlex_quote(value)}")
    return f"{''.join(env)}maildoctor run {MAIN_FLOW} {' '.join(sets)}"


# --- demo ---------------------------------------------------------------------------------------------


@main.command()
@scenario_option("The lab scenario to diagnose (see `maildoctor lab --list`).")
@click.option("--state-dir", metavar="PATH", help="Where transcripts are saved (MAILDOCTOR_STATE_DIR).")
@fault_options
@_guard
def demo(
    scenario_ref: str,
    state_dir: str | None,
    fault_names: tuple[str, ...],
    latency_aws: int | None,
    latency_dns: int | None,
    latency_smtp: int | None,
) -> None:
    """The TUI against the built-in lab: the seed incident, its inputs filled in (no AWS account needed).

    Starts the lab (AWS, DNS and SMTP on loopback) in this process, with any faults asked for, opens
    ses-delivery with the scenario's inputs, and stops the lab when you quit.
    """
    from maildoctor.clients.settings import Settings
    from maildoctor.config import load_config
    from maildoctor.flow.load import MAIN_FLOW
    from maildoctor.lab import Lab
    from maildoctor.lab.scenario import load_scenario

    faults = chosen_faults(fault_names, latency_aws, latency_dns, latency_smtp)
    if faults is None:
        return
    scenario = load_scenario(scenario_ref)
    with Lab() as lab:
        lab.load(scenario)
        lab.set_faults(faults)
        os.environ.update(lab.env())  # boto3 reads the endpoint and the lab's credentials from here
        settings = Settings.resolve(state_dir=state_dir)
        code = _run_tui(
            flow=MAIN_FLOW, prefill=scenario.walk_inputs(), settings=settings, config=load_config()
        )
    # the demo's findings are the point of the demo, not a failure of it
    raise click.exceptions.Exit(code if code not in (0, 1) else 0)


main.add_command(audit_command.with_connection_options())  # `maildoctor audit`


def entry() -> None:
    """Console entry point."""
    try:
        main(prog_name="maildoctor")
    except KeyboardInterrupt:
        click.echo("maildoctor: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
