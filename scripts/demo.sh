#!/usr/bin/env bash
# make demo: examples/hello's development stack, as `docker compose up` runs
# it from that folder (dev image, debugger, source mounted, reload on save),
# ports on 127.0.0.1 only; then say where to point a browser and VS Code.
#
#   scripts/demo.sh start | stop
#   PROD_IMAGE, DEV_IMAGE (flask-uwsgi:latest, :dev),
#   DEMO_HTTP_PORT (8080), DEMO_DEBUG_PORT (5678; per-worker mode adds the next)
set -Eeuo pipefail
cd "$(dirname "$0")/../examples/hello"

: "${PROD_IMAGE:=flask-uwsgi:latest}"
: "${DEV_IMAGE:=flask-uwsgi:dev}"
: "${DEMO_HTTP_PORT:=8080}"
: "${DEMO_DEBUG_PORT:=5678}"
# The pinned Compose v2 in the project's .venv (make venv).
: "${COMPOSE:=../../.venv/bin/docker-compose}"
project=flask-uwsgi-demo

# shellcheck source=scripts/lib.sh
. ../../scripts/lib.sh

demo_compose() {
	FLASK_UWSGI_IMAGE="$PROD_IMAGE" FLASK_UWSGI_DEV_IMAGE="$DEV_IMAGE" \
		HTTP_PORT="$DEMO_HTTP_PORT" DEBUG_PORTS="$DEMO_DEBUG_PORT-$((DEMO_DEBUG_PORT + 1))" \
		"$COMPOSE" -p "$project" "$@"
}

# Every worker is ready to join the debug session, or the stack is gone.
debuggable_or_gone() {
	local logs
	logs="$(demo_compose logs --no-log-prefix web 2>/dev/null)"
	[[ "$logs" == *"worker 2 ready to join the debug session"* ]] || [ -z "$(demo_compose ps -q web)" ] ||
		[ "$(docker inspect -f '{{.State.Running}}' "$(demo_compose ps -q web)")" != true ]
}

stop() { demo_compose down -t 3 >/dev/null 2>&1 || :; }

start() {
	stop
	local output
	if ! output="$(demo_compose up -d --build 2>&1)"; then
		printf '%s\n' "$output" >&2
		die "docker compose up failed in examples/hello"
	fi
	local url="http://127.0.0.1:$DEMO_HTTP_PORT/"
	wait_until 60 debuggable_or_gone || :
	if ! curl -fsS -o /dev/null "$url"; then
		demo_compose logs --tail 30 >&2
		die "the demo stack did not serve $url"
	fi
	cat <<MSG
flask-uwsgi demo is running (Compose project $project, from examples/hello, image $DEV_IMAGE)
  app:       $url
  debugger:  127.0.0.1:$DEMO_DEBUG_PORT, one attach for both workers
             (VS Code: open examples/hello, Run "Attach to flask-uwsgi")
  code:      examples/hello is mounted at /app; saving main.py reloads it
  logs:      docker compose -p $project logs -f   (or $COMPOSE)
  stop:      make demo-stop
MSG
}

case "${1:-}" in
	start | stop) "$1" ;;
	*) die "usage: $0 start|stop" ;;
esac
