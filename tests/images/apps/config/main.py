"""Reports what uWSGI and the hooks did, for the configuration tests."""

import json
import os
from pathlib import Path

import uwsgi


def _text(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


def app(environ, start_response):
    marker = Path("/tmp/prestart-ran")
    body = {
        "opt": {_text(k): _text(v) for k, v in uwsgi.opt.items()},
        "numproc": uwsgi.numproc,
        "prestart": marker.read_text().strip() if marker.exists() else None,
        "dropin_sh": Path("/tmp/dropin-ran").exists(),
        "from_envsh": os.environ.get("FROM_ENVSH"),
        "uwsgi_env": sorted(k for k in os.environ if k.startswith("UWSGI_")),
        "uid": os.getuid(),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
