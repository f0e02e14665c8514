"""An app that refuses to start without its configuration."""

import os

from flask import Flask

if "DATABASE_URL" not in os.environ:
    raise RuntimeError("DATABASE_URL is not set")

app = Flask(__name__)
