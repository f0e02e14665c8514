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

say() { printf 'flask-uwsgi: %s\n' "$*" >&2; }

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
	local url="http://127.0.0.1:$DEMO_HTTP_PORT/" deadline=$((SECONDS + 60))
	until curl -fsS -o /dev/null "$url" 2>/dev/null; do
		if [ "$(docker inspect -f '{{.State.Running}}' "$name")" != true ] || ((SECONDS > deadline)); then
			docker logs --tail 30 "$name" >&2
			say "error: the demo container did not serve $url"
			exit 1
		fi
		sleep 0.2
	done
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
	*)
		say "usage: $0 start|stop"
		exit 2
		;;
esac
