"""`app` is not a WSGI callable."""

app = "not an app"
