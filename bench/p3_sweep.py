"""P3: the suppression sweep against one GetSuppressedDestination call, at 80 ms per AWS call (issue 14).

    .venv/bin/python bench/p3_sweep.py [--quick] [--runs N]

The check ``ses.suppression`` (the recipient looked up in every enabled region, with the account's and the
sender's settings) against one ``GetSuppressedDestination`` call made with boto3, both against the lab
with the seed incident loaded and 80 ms per AWS call. A walk's first sweep is what an operator waits for,
so each run is a fresh process: fresh clients, nothing loaded before but the imports (timed from after
them: the sweep with maildoctor's own clients, the call with a new boto3 session and client). The two
sides alternate, ``--runs`` times (default 3); medians. Target: sweep / one call <= 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

from benchlib import Ratio, arguments, latencies, print_ratios, ratio, running_lab

from maildoctor.lab import Lab

SCENARIO = "seed-incident"
SIDES = ("sweep", "one-call")


def child(side: str, recipient: str, sender: str, region: str) -> None:
    """In the fresh process: time one side, print the seconds as JSON."""
    if side == "sweep":
        from maildoctor.checks.registry import default_registry
        from maildoctor.clients import Clients
        from maildoctor.clients.settings import Settings

        spec = default_registry()["ses.suppression"]
        clients = Clients(Settings.resolve())
        args = {"recipient": recipient, "sender": sender, "region": region}
        import boto3  # imported before the clock, as the other side does: imports are not timed

        started = time.monotonic()
        result = asyncio.run(spec.run(clients, args, {}, timeout=60))
        took, outcome = time.monotonic() - started, result.outcome
    else:
        import boto3
        import botocore.exceptions

        started = time.monotonic()
        client = boto3.session.Session().client(
            "sesv2", region_name=region, endpoint_url=os.environ["AWS_ENDPOINT_URL"]
        )
        try:
            client.get_suppressed_destination(EmailAddress=recipient)
            outcome = "suppressed"
        except botocore.exceptions.ClientError as exc:
            outcome = exc.response["Error"]["Code"]
        took = time.monotonic() - started
    print(json.dumps({"seconds": took, "outcome": outcome}))


def run_side(lab: Lab, side: str, inputs: dict[str, str]) -> tuple[float, str, int]:
    """One side in a fresh process: its seconds, its outcome, the AWS calls the lab answered."""
    lab.clear_calls()
    argv = [
        sys.executable,
        __file__,
        "--child",
        side,
        inputs["recipient"],
        inputs["sender"],
        inputs["region"],
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, env=os.environ.copy())
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["seconds"], answer["outcome"], len(lab.aws.calls())


def main() -> int:
    args = arguments(__doc__.splitlines()[0], runs=3)
    ms = latencies(args.quick)["aws"]
    results: dict[str, list[tuple[float, str, int]]] = {side: [] for side in SIDES}
    with running_lab(SCENARIO) as lab:
        inputs = lab.scenario.walk_inputs() if lab.scenario else {}
        lab.set_faults([f"aws-slow:{ms}"])
        for _ in range(args.runs):
            for side in SIDES:
                results[side].append(run_side(lab, side, inputs))
        lab.clear_faults()
    medians = {}
    for side, rows in results.items():
        medians[side] = statistics.median(r[0] for r in rows)
        print(
            f"{side}: median {medians[side]:.2f} s over {len(rows)} runs at {ms} ms per AWS call, "
            f"{rows[-1][2]} AWS calls, outcome {rows[-1][1]}"
        )
    print_ratios(Ratio("sweep/one-call", ratio(medians["sweep"], medians["one-call"]), 2))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
    else:
        sys.exit(main())
