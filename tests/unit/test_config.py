from __future__ import annotations

from pathlib import Path

import pytest

from maildoctor.config import ConfigError, load_config


def test_missing_file_is_an_empty_config(tmp_path: Path) -> None:
    assert load_config(tmp_path / "none.toml").inputs == {}


def test_inputs_theme_and_keymap(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'theme = "light"\n[inputs]\nsender = "admin@example.com"\n[keymap]\n"maildoctor.back" = "b,backspace"\n'
    )
    config = load_config(path)
    assert (config.theme, config.inputs, config.keymap) == (
        "light", {"sender": "admin@example.com"}, {"maildoctor.back": "b,backspace"},
    )  # fmt: skip


def test_errors_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('colour = "red"\n')
    with pytest.raises(ConfigError, match=r"c\.toml: colour: unknown key"):
        load_config(path)
    path.write_text("theme = \n")
    with pytest.raises(ConfigError, match=r"c\.toml: not valid TOML"):
        load_config(path)
    path.write_text('[inputs]\nsmtp_password = "B123"\n')
    with pytest.raises(ConfigError, match=r"inputs\.smtp_password: 'smtp_password' is a secret"):
        load_config(path, secret_names={"smtp_password"})


def test_unknown_keymap_binding_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[keymap]\n"maildoctor.bakc" = "x"\n')
    with pytest.raises(
        ConfigError, match=r"keymap: no key binding 'maildoctor\.bakc' \(known: .*maildoctor\.back"
    ):
        load_config(path)
