"""The application factory: settings in, a ready Flask app out, models loaded once."""

from __future__ import annotations

import logging

from flask import Flask

from veracity.service.errors import register_error_handlers
from veracity.service.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__, static_folder=None)  # service/static/ is served by the web blueprint, with its CSP
    app.config["VERACITY"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from veracity.service.pipeline import build_pipeline

    app.extensions["veracity"] = build_pipeline(settings)
    from veracity.service.admission import Admission

    app.extensions["veracity.admission"] = Admission(settings.max_in_flight, settings.queue_wait_s)

    from veracity.service import access, api_v1, web

    access.init_app(app)

    app.register_blueprint(api_v1.bp)
    app.register_blueprint(web.bp)
    register_error_handlers(app)
    from veracity.service import api_batches  # batch jobs: blueprint and worker supervisor

    api_batches.init_app(app)
    return app
