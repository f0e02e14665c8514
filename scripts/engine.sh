#!/usr/bin/env bash
# Make sure a Docker engine answers (make engine); CI also stops it afterwards.
#
#   scripts/engine.sh start   no-op when `docker info` works; otherwise, as root
#                             on Debian/Ubuntu, install docker.io (if missing) and
#                             start dockerd in the background
#   scripts/engine.sh stop    stop the dockerd that `start` started, if any
set -Eeuo pipefail

state_dir="${FLASK_UWSGI_ENGINE_DIR:-/var/tmp/flask-uwsgi-engine}"
pidfile="$state_dir/dockerd.pid"
logfile="$state_dir/dockerd.log"

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

engine_up() { docker info >/dev/null 2>&1; }

start() {
	engine_up && return 0
	[ "$(id -u)" = 0 ] || die "no Docker engine answers and starting one needs root; start Docker and retry"
	command -v dockerd >/dev/null || apt_install "no Docker engine answers" docker.io
	mkdir -p "$state_dir"
	say "starting dockerd (log: $logfile)"
	nohup dockerd >"$logfile" 2>&1 &
	echo $! >"$pidfile"
	wait_until 60 engine_up || {
		tail -n 20 "$logfile" >&2
		die "dockerd did not answer within 60 s"
	}
}

stop() {
	[ -f "$pidfile" ] || return 0
	local pid
	pid="$(cat "$pidfile")"
	rm -f "$pidfile"
	kill -0 "$pid" 2>/dev/null || return 0
	say "stopping dockerd (pid $pid)"
	kill "$pid"
	wait_until 30 bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid"
}

case "${1:-}" in
	start | stop) "$1" ;;
	*) die "usage: $0 start|stop" ;;
esac
