"""A typical Flask app: instance folder and SQLite file created at start."""

import os
import sqlite3

from flask import Flask

app = Flask(__name__)
os.makedirs(app.instance_path, exist_ok=True)
DATABASE = os.path.join(app.instance_path, "app.sqlite")
with sqlite3.connect(DATABASE) as db:
    db.execute("CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY)")


@app.get("/")
def index():
    with sqlite3.connect(DATABASE) as db:
        db.execute("INSERT INTO visits DEFAULT VALUES")
        (count,) = db.execute("SELECT COUNT(*) FROM visits").fetchone()
    return {"database": DATABASE, "visits": count, "uid": os.getuid()}
