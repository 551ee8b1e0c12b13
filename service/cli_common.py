"""What every ``veracity`` subcommand shares: settings read from the environment, errors as usage errors."""

from __future__ import annotations

import click

from veracity.service.settings import Settings, SettingsError


def cli_settings(**overrides) -> Settings:
    """``Settings.from_env`` with command-line overrides (``None`` = not given); a bad value is a usage error."""
    try:
        return Settings.from_env(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
