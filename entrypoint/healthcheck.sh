#!/usr/bin/env bash
# flask-uwsgi HEALTHCHECK: is uWSGI serving on PORT?
# Sends GET HEALTHCHECK_PATH over bash's /dev/tcp (the image has no curl) and
# passes on any status below 500. With the debugger on, a worker paused at a
# breakpoint is expected, so a connection accepted by uWSGI's socket is enough,
# once the debug port listens too.
# During the drain on stop it fails at once.
set -Eeo pipefail

FLASK_UWSGI_LIB="${FLASK_UWSGI_LIB:-$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")}"
# The entrypoint's functions (fu_bool, fu_is_dev_image) and the defaults.
# shellcheck source=entrypoint/docker-entrypoint.sh
. "$FLASK_UWSGI_LIB/docker-entrypoint.sh"
# shellcheck source=entrypoint/env.sh
. "$FLASK_UWSGI_LIB/env.sh"

fail() {
	echo "unhealthy: $*"
	exit 1
}

# STOP_DRAIN_SECONDS: SIGTERM came and the server is draining (docker-entrypoint.sh).
[ ! -e "$FLASK_UWSGI_RUN/draining" ] || fail "draining: the server is stopping"

# (bash's own "Connection refused" would only repeat the line below)
{ exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || fail "nothing accepts connections on port $PORT"

# Whether something listens on TCP port $1 in this container (read from the
# kernel's tables: a connection would be taken for a debugger's attach).
listening() {
	local hex
	printf -v hex '%04X' "$1"
	# (no /proc/net/tcp6 where IPv6 is off)
	{ cat /proc/net/tcp && cat /proc/net/tcp6 2>/dev/null || :; } |
		awk -v port=":$hex" 'substr($2, length($2) - 4) == port && $4 == "0A" { found = 1 } END { exit !found }'
}

if fu_is_dev_image && fu_bool DEBUGPY_ENABLE; then
	# Healthy once an attach works: every debug port listens.
	ports=("$DEBUGPY_PORT")
	if [ "${DEBUGPY_PORTS,,}" = per-worker ]; then
		mapfile -t ports < <(seq "$DEBUGPY_PORT" $((DEBUGPY_PORT + $(fu_debug_workers) - 1)))
	fi
	for port in "${ports[@]}"; do
		listening "$port" || fail "the debugger does not listen on port $port yet"
	done
	echo "healthy: port $PORT accepts connections, the debugger listens (debug mode)"
	exit 0
fi

printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: flask-uwsgi-healthcheck\r\n\r\n' "$HEALTHCHECK_PATH" >&3
IFS=' ' read -r -t 4 _ status _ <&3 || fail "no answer on port $PORT within 4 s"
[[ "$status" =~ ^[0-9]{3}$ ]] || fail "not an HTTP answer on port $PORT"
((status < 500)) || fail "GET $HEALTHCHECK_PATH answered $status"
echo "healthy: GET $HEALTHCHECK_PATH answered $status"
