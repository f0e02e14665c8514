"""An application factory: APP_MODULE='factoryapp:create_app("...")'."""

from flask import Flask


def create_app(greeting: str = "hello") -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def index() -> dict[str, str]:
        return {"greeting": greeting, "factory": "create_app"}

    return app
