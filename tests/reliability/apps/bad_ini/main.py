"""An app whose own uwsgi.ini has a misspelt option."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return {"ok": True}
