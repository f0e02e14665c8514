"""An app that imports a package the image does not have."""

import flask_missing_extension  # noqa: F401
from flask import Flask

app = Flask(__name__)
