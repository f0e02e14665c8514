"""A plain WSGI app that logs, prints and raises, for LOG_FORMAT=json."""

import logging

log = logging.getLogger("logs-app")


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/log":
        log.warning('a "quoted" \\ message\non two lines')
        try:
            {}["missing"]
        except KeyError:
            log.exception("caught")
        print("a printed line with a \x1b control byte", flush=True)
    elif path == "/raise":
        raise RuntimeError("uncaught, for uWSGI to report")
    body = environ.get("HTTP_X_REQUEST_ID", "").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
