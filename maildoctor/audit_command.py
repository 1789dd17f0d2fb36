"""``maildoctor audit``: the ``smtp-audit`` flow walked headless, reported as CONTRACT.md's audit.

Importing this module costs click only: the flow, the session and boto3 load when the command runs.
cli.py registers the command with the connection options every command has::

    main.add_command(audit_command.with_connection_options())

(``--region`` is the audit's own, repeatable: the SES regions audited, the first also the AWS region.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

FLOW = "smtp-audit"
EXIT_USAGE = 2


@click.command("audit")
@click.option(
    "--region",
    "regions",
    multiple=True,
    metavar="R",
    help="An SES region to audit (repeat for more; default the AWS region in effect). The first is also the "
    "AWS region of the calls.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for a terminal, json for scripts (CONTRACT.md's audit JSON), markdown for a ticket.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="Write the report here instead of stdout (checked before anything is read).",
)
@click.option(
    "--max-key-age",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    metavar="DAYS",
    help="The rotation age: an active SMTP key older than DAYS is due (smtp-key-rotation-due).",
)
@click.pass_context
def audit(
    ctx: click.Context,
    regions: tuple[str, ...],
    fmt: str,
    output: Path | None,
    max_key_age: int,
    **conn: Any,
) -> None:
    """Inventory every SES SMTP credential of the account, read-only: the IAM users that may send, their
    keys, last use, rotation history and rotation alerts, with the audit codes' findings.

    Exit status: 0 clean (audit-clean), 1 findings, 2 usage error, 3 something it needs could not be
    read (the report's unchecked list says what).
    """
    from maildoctor.cli import _guard

    ctx.exit(_guard(_run)(ctx, regions, fmt, output, max_key_age, conn))


def _run(
    ctx: click.Context,
    regions: tuple[str, ...],
    fmt: str,
    output: Path | None,
    max_key_age: int,
    conn: dict[str, Any],
) -> int:
    from maildoctor import headless, inputs
    from maildoctor.audit import report as audit_report
    from maildoctor.cli import _settings
    from maildoctor.flow.load import find_flow, load_flow

    for region in regions:
        problem = inputs.region_problem(region)
        if problem:
            raise click.UsageError(f"--region {region}: {problem}", ctx)
    settings = _settings(ctx, region=regions[0] if regions else None, **conn)
    flow = load_flow(find_flow(FLOW))
    given = {"max_key_age": str(max_key_age), **({"regions": ",".join(regions)} if regions else {})}
    values = inputs.resolve(flow, given, settings, os.environ)
    # walked as any flow headless (progress, transcript, the report never lost), rendered as the audit
    return headless.run(flow, values, settings, fmt=fmt, output=output, renderer=audit_report.render)


def with_connection_options() -> click.Command:
    """``audit`` with cli.py's connection options (all but ``--region``, which is the audit's own);
    once, however often it is called."""
    from maildoctor.cli import connection_options

    have = {p.name for p in audit.params}
    donor = connection_options(click.Command("donor"))  # click.option on a Command appends to its params,
    # last option first (connection_options applies them in reverse, for a function's decorators)
    audit.params += [p for p in reversed(donor.params) if p.name not in have and p.name != "region"]
    return audit
