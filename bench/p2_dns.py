"""P2: `maildoctor run dns-auth` against checkdmarc on the same lab zone at the same DNS latency (issue 14).

    .venv/bin/python bench/p2_dns.py [--quick] [--runs N]

The seed incident's zone (``example.com``: SPF, DMARC, Easy DKIM, a custom MAIL FROM domain) served by the
lab's DNS server. maildoctor walks the ``dns-auth`` flow in process (the engine, as ``run`` does, with the
identity's DKIM tokens and MAIL FROM domain as inputs); checkdmarc 6.0.4 (a test dependency) runs
``check_domains`` with the lab's server as its only nameserver (address and port), its answer caches
emptied before each run. Each is run without
latency and with 30 ms per DNS answer, interleaved, ``--runs`` rounds (default 3; medians), after one
warm-up run of each (first imports and resolver set-up are not what is compared). Prints the time latency adds to each, the queries
each had answered (from the lab's call log), and the ratio ours / checkdmarc (target <= 0.3).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import checkdmarc
import checkdmarc.dnssec
import checkdmarc.smtp
import checkdmarc.utils
import dns.nameserver
from benchlib import Ratio, arguments, latencies, print_ratios, ratio, running_lab, walk
from expiringdict import ExpiringDict

from maildoctor.lab import Lab

SCENARIO, DOMAIN, REGION = "seed-incident", "example.com", "us-east-1"


def dns_auth_inputs(lab: Lab) -> dict[str, str]:
    scenario = lab.scenario
    identity = scenario.identity(REGION, DOMAIN) if scenario else None
    inputs = {"domain": DOMAIN, "region": REGION}
    if identity and identity.dkim:
        inputs["dkim_tokens"] = ",".join(identity.dkim.tokens)
    if identity and identity.mail_from:
        inputs["mail_from_domain"] = identity.mail_from.domain
    return inputs


def ours(lab: Lab) -> Callable[[], float]:
    inputs = dns_auth_inputs(lab)

    def run() -> float:
        took, _, code = walk("dns-auth", inputs)
        if code != "all-clear":
            print(f"note: dns-auth's diagnosis is {code}, not all-clear", flush=True)
        return took

    return run


def forget_checkdmarc_caches() -> None:
    """checkdmarc keeps answers in module-level caches (ExpiringDict): empty them, as in a fresh process
    (maildoctor's walk gets fresh clients, and so no earlier answer, each run)."""
    for module in (checkdmarc.utils, checkdmarc.dnssec, checkdmarc.smtp):
        for value in vars(module).values():
            if isinstance(value, ExpiringDict):
                value.clear()


def theirs(lab: Lab) -> Callable[[], float]:
    server = dns.nameserver.Do53Nameserver(lab.dns.host, lab.dns.port)

    def run() -> float:
        forget_checkdmarc_caches()
        started = time.monotonic()
        checkdmarc.check_domains([DOMAIN], nameservers=[server], timeout=5.0)
        return time.monotonic() - started

    return run


def measure(lab: Lab, side: Callable[[], float], ms: int) -> tuple[float, int]:
    """One run at ``ms`` per DNS answer: its seconds and the queries the lab answered."""
    lab.set_faults([f"dns-slow:{ms}"] if ms else [])
    lab.clear_calls()
    took = side()
    return took, len(lab.dns.calls())


def main() -> int:
    args = arguments(__doc__.splitlines()[0], runs=3)
    ms = latencies(args.quick)["dns"]
    with running_lab(SCENARIO) as lab:
        sides = {"maildoctor dns-auth": ours(lab), "checkdmarc": theirs(lab)}
        for side in sides.values():  # warm-up: imports, flow loading, resolver set-up
            measure(lab, side, 0)
        runs: dict[str, list[tuple[float, float, int, int]]] = {name: [] for name in sides}
        for _ in range(args.runs):
            for name, side in sides.items():
                without, asked_without = measure(lab, side, 0)
                with_latency, asked = measure(lab, side, ms)
                runs[name].append((without, with_latency, asked_without, asked))
        lab.clear_faults()
    added = {}
    for name, rows in runs.items():
        without = statistics.median(r[0] for r in rows)
        with_latency = statistics.median(r[1] for r in rows)
        added[name] = with_latency - without
        print(
            f"{name}: {without:.2f} s without latency, {with_latency:.2f} s with {ms} ms per answer: "
            f"latency adds {added[name]:.2f} s; {rows[-1][3]} queries answered ({rows[-1][2]} without latency)"
        )
    ours_added, theirs_added = added["maildoctor dns-auth"], added["checkdmarc"]
    print_ratios(Ratio("ours/checkdmarc", ratio(ours_added, theirs_added), 0.3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
