"""notes: a package app with an application factory, blueprints and SQLite.

flask-uwsgi serves it with APP_MODULE="notes:create_app()" (see the Dockerfile);
prestart.sh creates the database before uWSGI starts.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from notes import api, db, health, pages


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(DATABASE=os.environ.get("NOTES_DATABASE", "/data/notes.sqlite3"))
    # FLASK_* variables set config keys: FLASK_SECRET_KEY is SECRET_KEY (the
    # Kubernetes Secret in kubernetes/secret.yaml).
    app.config.from_prefixed_env()
    app.config.update(config or {})
    db.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(health.bp)
    return app
