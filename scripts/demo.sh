#!/usr/bin/env bash
# make demo: run examples/hello on the dev image with the debugger on, ports
# published on 127.0.0.1 only, and say where to point a browser and VS Code.
#
#   scripts/demo.sh start | stop
#   DEV_IMAGE (flask-uwsgi:dev), DEMO_HTTP_PORT (8080), DEMO_DEBUG_PORT (5678)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

: "${DEV_IMAGE:=flask-uwsgi:dev}"
: "${DEMO_HTTP_PORT:=8080}"
: "${DEMO_DEBUG_PORT:=5678}"
name=flask-uwsgi-demo
app_dir="$PWD/examples/hello"

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# The app answers, or the container is gone (waiting is over either way).
answered_or_gone() {
	curl -fsS -o /dev/null "$1" 2>/dev/null ||
		[ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]
}

stop() { docker rm -f "$name" >/dev/null 2>&1 || :; }

start() {
	stop
	# The debug port runs any code sent to it: 127.0.0.1 only, never 0.0.0.0.
	docker run -d --name "$name" \
		-p "127.0.0.1:$DEMO_HTTP_PORT:8080" \
		-p "127.0.0.1:$DEMO_DEBUG_PORT:5678" \
		-e DEBUGPY_ENABLE=1 \
		-v "$app_dir:/app" \
		"$DEV_IMAGE" >/dev/null
	local url="http://127.0.0.1:$DEMO_HTTP_PORT/"
	wait_until 60 answered_or_gone "$url" || :
	if ! curl -fsS -o /dev/null "$url"; then
		docker logs --tail 30 "$name" >&2
		die "the demo container did not serve $url"
	fi
	cat <<MSG
flask-uwsgi demo is running (container $name, image $DEV_IMAGE)
  app:       $url
  debugger:  127.0.0.1:$DEMO_DEBUG_PORT  (VS Code: open examples/hello, Run "Attach to flask-uwsgi")
  code:      $app_dir is mounted at /app
  logs:      docker logs -f $name
  stop:      make demo-stop
MSG
}

case "${1:-}" in
	start | stop) "$1" ;;
	*) die "usage: $0 start|stop" ;;
esac
