"""An app that knows nothing of OpenTelemetry; the image traces it."""

import time

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/items/<int:number>")
    def item(number: int) -> dict[str, int]:
        time.sleep(0.02)  # long enough for requests to spread over the workers
        return {"number": number}

    return app
