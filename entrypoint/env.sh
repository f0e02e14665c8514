# shellcheck shell=bash
# flask-uwsgi: every environment variable the images read, its default, and
# which source wins. Sourced by docker-entrypoint.sh and healthcheck.sh; the
# README's variable table is checked against this file by the tests.
#
# Precedence for uWSGI settings, lowest to highest:
#   1. /etc/flask-uwsgi/uwsgi.ini   the image's production defaults
#   2. /app/uwsgi.ini               the app's own settings, when the file exists
#   3. UWSGI_<OPTION> variables     uWSGI's own naming: UWSGI_HARAKIRI=30 is
#                                   "harakiri = 30", UWSGI_BUFFER_SIZE is
#                                   "buffer-size"; unknown options are errors
#   4. extra arguments              docker run IMAGE --option value ...
# With the debugger on (dev image), the settings that keep a paused worker
# alive (no harakiri, no cheaper, no worker recycling) come after all four.

# --- both images -------------------------------------------------------------

# APP_MODULE: the WSGI callable, as module:callable or package:factory().
# Default: main:app
: "${APP_MODULE:=main:app}"

# PORT: the HTTP port uWSGI serves inside the container (1-65535).
# Default: 8080
: "${PORT:=8080}"

# PRESTART_SCRIPT: run with bash before the server starts; a failure stops the
# container with the script's exit code. The default path may be absent; a
# path set explicitly must exist.
# Default: /app/prestart.sh
: "${PRESTART_SCRIPT:=/app/prestart.sh}"

# HEALTHCHECK_PATH: what the image's HEALTHCHECK requests; any answer below 500
# is healthy. In debug mode the check only connects (a paused worker is fine).
# Default: /
: "${HEALTHCHECK_PATH:=/}"

# ENTRYPOINT_QUIET_LOGS: any non-empty value silences the entrypoint's progress
# lines; warnings and errors are always printed.
# Default: (empty)
: "${ENTRYPOINT_QUIET_LOGS:=}"

# HOT_RELOAD: 1/true/yes/on reload uWSGI gracefully (the container keeps
# running) within about a second of a change to a Python file of the app's
# that is loaded from /app: for development with the source bind-mounted
# there. While the app cannot be imported, requests get a 500 page with the
# error and the next save reloads again. 0/false/no/off or empty: off;
# anything else is an error.
# Default: (empty, off)
: "${HOT_RELOAD:=}"

# ACCESS_LOG: 1/true/yes/on log every request (uWSGI's request log, on
# stdout). Off, uWSGI logs what operators need without paying per request:
# client and server errors (4xx, 5xx) and requests slower than 1 s. Every
# request through Docker's log pipeline costs throughput (docs/performance.md).
# The dev image sets ACCESS_LOG=1. Values as HOT_RELOAD's.
# Default: (empty, off)
: "${ACCESS_LOG:=}"

# HTTP_MODE: nginx: nginx, in the container (uWSGI's master runs it), reads
# each request whole, headers and body, before a worker sees it, so slow or
# idle clients hold no worker thread; it refuses what RFC 9112 says to
# refuse, and keeps client connections alive. router: uWSGI's HTTP router,
# an asynchronous process, reads each request's headers whole (a body is
# passed on as it arrives) and keeps connections alive. direct: the workers
# read HTTP themselves (http-socket, one connection per request), and each
# slow client holds a thread; only behind a proxy that buffers requests.
# Default: nginx
: "${HTTP_MODE:=nginx}"

# MAX_REQUEST_BODY: the largest request body in bytes. A request that
# declares a larger one is refused before the app runs: with HTTP_MODE=nginx,
# 413; with router, 413 when the client asks first (Expect: 100-continue);
# otherwise, and always with direct, its connection is closed.
# Default: 104857600
: "${MAX_REQUEST_BODY:=104857600}"

# STOP_DRAIN_SECONDS: what SIGTERM does first. For this many seconds the
# health path (HEALTHCHECK_PATH) answers 503, so load balancers and probes
# take the container out of rotation, while every request is still served;
# then the graceful stop (in-flight requests finish, exit 0). 0: stop at
# once. Whole seconds, 0-3600; give docker stop (--stop-timeout) or
# Kubernetes (terminationGracePeriodSeconds) that long and more.
# Default: 0
: "${STOP_DRAIN_SECONDS:=0}"

# METRICS_PORT: a port (1-65535, not PORT) on which /metrics serves uWSGI's
# numbers in Prometheus' text format (uwsgi/metrics.ini); never on PORT.
# Empty: no metrics, no stats socket, no exporter.
# Default: (empty, off)
: "${METRICS_PORT:=}"

# LOG_FORMAT: plain (uWSGI's own lines, as they come) or json: every line the
# container writes is one JSON object with time, level, source and message
# (uwsgi/log_relay.py); request lines add method, path, status, duration,
# size and the request's id (X-Request-ID, or a new one, passed to the app).
# Default: plain
: "${LOG_FORMAT:=plain}"

# --- dev image only ----------------------------------------------------------

# DEBUGPY_ENABLE: 1/true/yes/on start debugpy in every uWSGI worker;
# 0/false/no/off or empty leave it off; anything else is an error. The prod
# image has no debugger: there a true value logs a warning and serving goes on.
# Default: (empty, off)
: "${DEBUGPY_ENABLE:=}"

# DEBUGPY_HOST: the address debugpy listens on inside the container. Publish
# the port on the host's 127.0.0.1 only: it runs any code sent to it.
# Default: 0.0.0.0
: "${DEBUGPY_HOST:=0.0.0.0}"

# DEBUGPY_PORT: the debug port. With DEBUGPY_PORTS=per-worker, worker 1's;
# worker N listens on DEBUGPY_PORT + N - 1.
# Default: 5678
: "${DEBUGPY_PORT:=5678}"

# DEBUGPY_PORTS: one: a single attach on DEBUGPY_PORT covers every worker;
# workers started later (respawn, reload) join the session by themselves as
# subprocesses. per-worker: each worker listens on its own port (attach to
# each; the examples' launch.json has a compound configuration for that).
# Default: one
: "${DEBUGPY_PORTS:=one}"

# DEBUGPY_WAIT: like DEBUGPY_ENABLE's values; when on, each worker waits for a
# debugger to attach before it handles requests (uWSGI itself starts and
# accepts connections, which queue).
# Default: (empty, off)
: "${DEBUGPY_WAIT:=}"

export APP_MODULE PORT PRESTART_SCRIPT HEALTHCHECK_PATH ENTRYPOINT_QUIET_LOGS HOT_RELOAD \
    ACCESS_LOG HTTP_MODE MAX_REQUEST_BODY STOP_DRAIN_SECONDS METRICS_PORT LOG_FORMAT \
    DEBUGPY_ENABLE DEBUGPY_HOST DEBUGPY_PORT DEBUGPY_PORTS DEBUGPY_WAIT
