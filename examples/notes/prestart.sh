#!/usr/bin/env bash
# Run by flask-uwsgi before uWSGI starts: create the database if it is missing.
set -Eeuo pipefail
python -m notes.db
