"""The application factory: settings in, a configured Flask app out.

It only configures and registers: no logging set-up, no worker processes, no corpus building of its own
(``build_pipeline`` builds the bundled corpus when it is missing, as it does for every other entry point).
What a *running server* does on start-up (logging, resuming unfinished batch jobs) is in ``veracity serve``
(``service/cli.py``), so that importing and creating an app in a test or a WSGI host has no side effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

from veracity.service.errors import register_error_handlers
from veracity.service.settings import Settings

if TYPE_CHECKING:
    from veracity.service.pipeline import Pipeline


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> Flask:
    """``pipeline``: reuse one already loaded (the models take seconds to load); default: build one."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None)  # service/static/ is served by the web blueprint, with its CSP
    app.config["VERACITY"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    if pipeline is None:
        from veracity.service.pipeline import build_pipeline

        pipeline = build_pipeline(settings)
    app.extensions["veracity"] = pipeline
    from veracity.service.admission import Admission, RateLimiter

    app.extensions["veracity.admission"] = Admission(
        settings.max_in_flight, settings.queue_wait_s, max_queued=settings.max_queued
    )
    app.extensions["veracity.rate_limiter"] = RateLimiter(settings.rate_limit_per_minute)

    from veracity.service import access, api_batches, api_v1, web

    access.init_app(app)
    app.register_blueprint(api_v1.bp)
    app.register_blueprint(web.bp)
    register_error_handlers(app)
    api_batches.init_app(app)  # routes and the (idle) worker supervisor; jobs start when one is submitted
    return app
