"""The wheel carries the shipped flows and the lab's scenarios, so an installed maildoctor finds them."""

from __future__ import annotations

import shutil
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
    assert "maildoctor = maildoctor.launcher:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def fake_python(folder: Path) -> Path:
    """A stand-in for python3: `-m venv DIR` makes DIR/bin/python, a pip that prints what it was asked."""
    pip = '#!/bin/sh\necho "pip-ran: $*"\n'
    python = folder / "python3"
    python.write_text(
        "#!/bin/sh\n"
        '[ "$1 $2" = "-m venv" ] || exit 9\n'
        'mkdir -p "$3/bin"\n'
        f"cat > \"$3/bin/python\" <<'PIP'\n{pip}PIP\n"
        'chmod +x "$3/bin/python"\n'
    )
    python.chmod(0o755)
    return python


def test_make_says_what_each_install_step_does_before_it_and_lets_pip_show_its_progress(
    tmp_path: Path,
) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        (checkout / name).write_bytes((ROOT / name).read_bytes())
    python = fake_python(tmp_path)

    def install() -> list[str]:
        done = subprocess.run(
            ["make", "--no-print-directory", "-C", str(checkout), f"PYTHON={python}", ".venv/.installed"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return (done.stdout + done.stderr).splitlines()

    lines = install()
    pip_runs = [n for n, line in enumerate(lines) if line.startswith("pip-ran: ")]
    assert [lines[n].split()[1:4] for n in pip_runs] == [["-m", "pip", "install"]] * 2
    assert "-e .[test]" in lines[pip_runs[-1]]
    assert lines[0].startswith("make: creating .venv")  # before the first silent step
    announced = [lines[n - 1] for n in pip_runs]  # each step says what it does right before it starts
    assert all(line.startswith("make: ") for line in announced), lines
    assert len({lines[0], *announced}) == 3, lines
    assert "~1 min" in announced[-1]
    for n in pip_runs:
        assert not {"-q", "--quiet"} & set(lines[n].split()), lines[n]  # pip's own progress is shown
    assert lines[-1] == "make: .venv is ready"
    assert not [line for line in install() if line.startswith("pip-ran: ")]  # installed once


def test_ci_names_what_apt_installs_before_it_and_fails_when_make_test_fails(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname"):
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "python3").symlink_to(sys.executable)
    stubs = {"apt-get": 'echo "apt-get-ran: $*"', "make": 'echo "make-ran: $*"; exit 7'}
    for tool, body in stubs.items():
        (bin_dir / tool).write_text(f"#!{bin_dir / 'bash'}\n{body}\n")
        (bin_dir / tool).chmod(0o755)
    done = subprocess.run(
        [str(bin_dir / "bash"), str(ROOT / ".ci" / "run")],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 7  # make test's failure is CI's failure
    lines = done.stdout.splitlines()
    first_apt = next(n for n, line in enumerate(lines) if line.startswith("apt-get-ran: "))
    assert "installing with apt: tmux librsvg2-bin" in " ".join(lines[:first_apt])  # neither is on PATH
    assert lines[-1] == "make-ran: test"
