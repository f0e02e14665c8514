#!/usr/bin/env bash
# flask-uwsgi: run uWSGI with a drain before its graceful stop (STOP_DRAIN_SECONDS > 0).
#
#   drain-on-term.sh uwsgi --ini ...     (the entrypoint, or supervisord on the dev image)
#
# uWSGI itself stops at once on SIGTERM, so this shell stays its parent: on
# SIGTERM the flag file makes the health path answer 503
# (uwsgi_app_loader.py) and the health check fail while uWSGI serves on;
# after STOP_DRAIN_SECONDS uWSGI gets the SIGTERM it maps to a graceful
# stop. Other signals are passed on as they come. Exits with uWSGI's status.
set -Eeo pipefail

FLASK_UWSGI_LIB="${FLASK_UWSGI_LIB:-$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")}"
# The entrypoint's functions (fu_log) and the defaults.
# shellcheck source=entrypoint/docker-entrypoint.sh
. "$FLASK_UWSGI_LIB/docker-entrypoint.sh"
# shellcheck source=entrypoint/env.sh
. "$FLASK_UWSGI_LIB/env.sh"

# shellcheck disable=SC2329 # run by the TERM trap
drain_then_stop() {
	local pid="$1"
	: >"$FLASK_UWSGI_RUN/draining"
	fu_log "SIGTERM: draining for $STOP_DRAIN_SECONDS s (GET $HEALTHCHECK_PATH answers 503), then stopping gracefully"
	sleep "$STOP_DRAIN_SECONDS" &
	wait "$!" || :
	kill -TERM "$pid" 2>/dev/null || :
}

main() {
	local pid signal status
	"$@" &
	pid=$!
	# shellcheck disable=SC2064 # the pid is fixed now
	trap "drain_then_stop $pid" TERM
	for signal in HUP INT QUIT USR1 USR2 WINCH; do
		# shellcheck disable=SC2064
		trap "kill -$signal $pid 2>/dev/null" "$signal"
	done
	# wait returns early for each trapped signal; the last one gives uWSGI's status.
	while :; do
		status=0
		wait "$pid" || status=$?
		kill -0 "$pid" 2>/dev/null || break
	done
	exit "$status"
}

main "$@"
