"""The user's config file (TOML): default inputs, the theme and a keymap, validated strictly.

Where: ``MAILDOCTOR_CONFIG`` or the platform's user config dir (``.../maildoctor/config.toml``).
A missing file is fine; a broken one is an error naming the file and the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from maildoctor.errors import MaildoctorError


class ConfigError(MaildoctorError):
    pass


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    theme: Literal["dark", "light"] | None = None
    inputs: dict[str, str] = Field(
        default_factory=dict, description="default values for flow inputs (no secrets)"
    )
    keymap: dict[str, str] = Field(
        default_factory=dict, description="binding id → keys, e.g. 'maildoctor.back' = 'b,backspace'"
    )


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("MAILDOCTOR_CONFIG"):
        return Path(env["MAILDOCTOR_CONFIG"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("maildoctor", appauthor=False)) / "config.toml"


def load_config(path: Path | None = None, secret_names: set[str] | None = None) -> Config:
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {'unknown key' if e['type'] == 'extra_forbidden' else e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    from maildoctor.keymap import KEY_IDS, unknown_ids  # the key table only: no textual

    for binding in unknown_ids(dict(config.keymap)):
        raise ConfigError(f"{path}: keymap: no key binding '{binding}' (known: {', '.join(sorted(KEY_IDS))})")
    for name in sorted(set(config.inputs) & (secret_names or set())):
        raise ConfigError(
            f"{path}: inputs.{name}: '{name}' is a secret and is not read from a file that stays on disk"
        )
    return config
