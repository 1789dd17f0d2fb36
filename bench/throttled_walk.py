"""How much SES's own API rate costs a walk: the seed incident walked headless against the lab, as is and
with SES admitting 1 call per second per region (the `ses-throttled` scenario), a few times each.

    .venv/bin/python bench/throttled_walk.py [RUNS]

Prints the median wall time of each, their ratio, and the AWS calls each made (a throttled call counts
each time it is sent). Both walks must end in the same diagnosis with nothing unchecked.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from maildoctor.cli import main
from maildoctor.lab import Lab


def walk(lab: Lab, name: str, inputs_dir: Path) -> tuple[float, int, str, list[str]]:
    scenario = lab.load(name)
    os.environ.update(lab.env())
    args = ["run", "ses-delivery", "--format", "json"]
    for key, value in scenario.walk_inputs().items():
        if key == "smtp_password":
            os.environ["MAILDOCTOR_INPUT_SMTP_PASSWORD"] = value
        elif "\n" in value:
            path = inputs_dir / f"{key}.txt"
            path.write_text(value)
            args += ["--set", f"{key}=@{path}"]
        elif value:
            args += ["--set", f"{key}={value}"]
    lab.aws.clear_operations()
    started = time.monotonic()
    result = CliRunner().invoke(main, args)
    took = time.monotonic() - started
    report = json.loads(result.stdout)
    return (
        took,
        len(lab.aws.operations()),
        report["diagnosis"]["code"],
        [u["node"] for u in report["unchecked"]],
    )


def main_() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MAILDOCTOR_STATE_DIR"] = tmp
        lab = Lab().start()
        try:
            results = {
                name: [walk(lab, name, Path(tmp)) for _ in range(runs)]
                for name in ("seed-incident", "ses-throttled")
            }
        finally:
            lab.stop()
    medians = {}
    for name, rows in results.items():
        medians[name] = statistics.median(r[0] for r in rows)
        codes = {(r[2], tuple(r[3])) for r in rows}
        print(
            f"{name:15} median {medians[name]:5.2f} s over {runs} runs, {rows[-1][1]} AWS calls, diagnosis/unchecked {codes}"
        )
    print(f"throttled / unthrottled: {medians['ses-throttled'] / medians['seed-incident']:.2f}x")


if __name__ == "__main__":
    main_()
