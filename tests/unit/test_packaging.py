"""The wheel carries the shipped flows and the lab's scenarios, so an installed maildoctor finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_flows_schema_and_lab_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("maildoctor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped_flows = {
        f"maildoctor/_flows/{p.name}" for p in (ROOT / "flows").iterdir() if p.suffix in (".yaml", ".json")
    }
    assert "maildoctor/_flows/dns-auth.yaml" in shipped_flows
    assert shipped_flows <= names
    assert "maildoctor/lab/scenarios/seed-incident.yaml" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "maildoctor = maildoctor.cli:entry" in zipfile.ZipFile(wheel).read(entry_points).decode()
