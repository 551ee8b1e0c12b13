"""The ``veracity`` command: serve, check, and look after the evidence corpus.

Progress goes to stderr and data to stdout, so every command's output can be piped.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from typing import Any

import click

from veracity.service.cli_batch import batch
from veracity.service.cli_common import cli_settings
from veracity.service.cli_corpus import corpus


class _Group(click.Group):
    """Faults an operator can fix (a locked or read-only database, a damaged model file) end as one line that says
    so, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from veracity.service.errors import ModelFileError, database_problem

        try:
            return super().invoke(ctx)
        except ModelFileError as exc:
            raise click.ClickException(str(exc)) from None
        except sqlite3.OperationalError as exc:
            problem = database_problem(exc)
            if problem is None:
                raise
            raise click.ClickException(problem[1]) from None


@click.group(cls=_Group)
@click.version_option(package_name="veracity")
def main() -> None:
    """Veracity: check the claims in a text against a graded evidence corpus."""


@main.command()
@click.option("--host", default=None, help="Interface (default VERACITY_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default VERACITY_PORT or 8080).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the API with waitress (a production WSGI server)."""
    from waitress import serve as waitress_serve

    from veracity.service.app import create_app

    settings = cli_settings(host=host, port=port)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    supervisor = app.extensions["veracity_batches"]
    supervisor.resume_unfinished()  # jobs a stopped server left unfinished
    supervisor.watch()  # and a worker that dies mid-job is started again within seconds
    click.echo(f"Veracity serving on http://{settings.host}:{settings.port} (corpus {settings.corpus_db})", err=True)
    waitress_serve(
        app,
        host=settings.host,
        port=settings.port,
        threads=settings.threads_server,
        connection_limit=settings.connection_limit,
        channel_request_lookahead=1,  # keep reading, so that a client who hangs up is seen and its check stopped
        ident="veracity",
    )


@main.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--check-all", is_flag=True, help="Give a verdict for every sentence, check-worthy or not.")
def check(source, check_all: bool) -> None:
    """Check the text in SOURCE (a file, or - for stdin) and print the result as JSON."""
    from veracity.service.api_v1 import check_result_json
    from veracity.service.pipeline import build_pipeline

    text = source.read()
    if not text.strip():
        raise click.UsageError("the input is empty; give a file with the text to check")
    pipeline = build_pipeline(cli_settings())
    result = pipeline.check(text, check_all=check_all)
    click.echo(json.dumps({**check_result_json(result), "model": pipeline.describe()}, indent=2, ensure_ascii=False))


@main.command()
def config() -> None:
    """Print every VERACITY_* setting with its default and meaning (markdown)."""
    from veracity.service.settings import settings_markdown

    click.echo(settings_markdown(), nl=False)


main.add_command(corpus)
main.add_command(batch)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
