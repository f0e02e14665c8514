#!/usr/bin/env bash
# flask-uwsgi entrypoint: the container's boot sequence, top to bottom.
#
#   docker run IMAGE                    check settings, run hooks, serve with uWSGI
#   docker run IMAGE --opt value ...    the same, with extra uWSGI options
#   docker run IMAGE any command        run that command instead of the server
#
# Serving is one pass: validate every variable (env.sh documents them), run
# the /docker-entrypoint.d/ drop-ins and the prestart script, work out uWSGI's
# command line (its layered configuration), then exec uWSGI. On the dev image
# supervisord takes PID 1 and starts that same command line itself.
set -Eeo pipefail

FLASK_UWSGI_LIB="${FLASK_UWSGI_LIB:-$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")}"
FLASK_UWSGI_ETC="${FLASK_UWSGI_ETC:?the image sets it (Dockerfile)}"
FLASK_UWSGI_DROPINS="${FLASK_UWSGI_DROPINS:-/docker-entrypoint.d}"
FLASK_UWSGI_APP_INI="${FLASK_UWSGI_APP_INI:-/app/uwsgi.ini}"
# The container's runtime files (the debug hub's, the drain's, uWSGI's
# sockets): made fresh at each start. uwsgi.ini and the Python helpers find it
# through this variable.
FLASK_UWSGI_RUN="${FLASK_UWSGI_RUN:-/tmp/flask-uwsgi}"
export FLASK_UWSGI_RUN

# sysexits.h EX_CONFIG: the container's settings are wrong.
readonly EXIT_CONFIG=78

fu_log() {
	if [ -z "${ENTRYPOINT_QUIET_LOGS:-}" ]; then
		printf 'flask-uwsgi: %s\n' "$*"
	fi
}
fu_warn() { printf 'flask-uwsgi: warning: %s\n' "$*" >&2; }
# usage: fu_die MESSAGE [EXIT_STATUS]
fu_die() {
	printf 'flask-uwsgi: error: %s\n' "$1" >&2
	exit "${2:-$EXIT_CONFIG}"
}

# usage: fu_bool VAR  -> exit status 0 when VAR is on, 1 when off; dies otherwise
fu_bool() {
	local var="$1" value="${!1:-}"
	case "${value,,}" in
		1 | true | yes | on) return 0 ;;
		'' | 0 | false | no | off) return 1 ;;
	esac
	fu_die "$var=\"$value\" is not a boolean (use 1/true/yes/on or 0/false/no/off)"
}

# usage: fu_check_port VAR [MAX]
fu_check_port() {
	local var="$1" value="${!1:-}" max="${2:-65535}"
	if ! [[ "$value" =~ ^[0-9]{1,5}$ ]] || ((10#$value < 1 || 10#$value > max)); then
		fu_die "$var=\"$value\" is not a port number (1-$max)"
	fi
}

fu_check_app_module() {
	local ident='[A-Za-z_][A-Za-z0-9_]*'
	if [[ "${APP_MODULE%%:*}" == *.py ]]; then
		fu_die "APP_MODULE=\"$APP_MODULE\" names a file; name the module instead (main.py -> main:app)"
	fi
	# module[.sub]  then optionally  :name[.attr]  and an optional call "(...)"
	if ! [[ "$APP_MODULE" =~ ^$ident(\.$ident)*(:$ident(\.$ident)*(\(.*\))?)?$ ]]; then
		fu_die "APP_MODULE=\"$APP_MODULE\" is not module:callable or package:factory() (e.g. main:app, myapp:create_app())"
	fi
}

# uWSGI's own naming of its variables: UWSGI_BUFFER_SIZE is buffer-size.
# usage: fu_uwsgi_option VAR   -> sets FU_OPTION
fu_uwsgi_option() {
	FU_OPTION="${1#UWSGI_}"
	FU_OPTION="${FU_OPTION,,}"
	FU_OPTION="${FU_OPTION//_/-}"
}

# uWSGI reads numbers with atoi() or strtoul(): UWSGI_PROCESSES=four would
# quietly be 0, UWSGI_LIMIT_POST=big no upload limit at all. Every option
# that takes a number, with its kind, is in uwsgi-numeric-options (written
# from uWSGI's own option tables by scripts/uwsgi-numeric-options.py).
fu_check_uwsgi_numbers() {
	local -A kinds
	local name kind var value max
	while read -r name kind; do
		[[ "$name" == "#"* ]] || kinds[$name]="$kind"
	done <"$FLASK_UWSGI_LIB/uwsgi-numeric-options"
	for var in $(compgen -e); do
		[[ "$var" == UWSGI_* ]] || continue
		fu_uwsgi_option "$var"
		kind="${kinds[$FU_OPTION]:-}"
		[ -n "$kind" ] || continue
		value="${!var}"
		case "$kind" in
			int) max=2147483647 ;;
			signed) max=2147483647 value="${value#-}" ;;
			16bit) max=65535 ;;
			*) max=999999999999999999 ;;
		esac
		[[ "$value" =~ ^[0-9]{1,18}$ ]] || fu_die "$var=\"${!var}\" is not a whole number"
		((10#$value <= max)) || fu_die "$var=\"${!var}\" is more than $max"
	done
}

# The kernel's cap on a socket's listen backlog in this container's network
# namespace (net.core.somaxconn: 4096 by default since Linux 5.4).
fu_somaxconn() {
	local max
	max="$(cat "${FLASK_UWSGI_SOMAXCONN_FILE:-/proc/sys/net/core/somaxconn}" 2>/dev/null)" || max=128
	[[ "$max" =~ ^[0-9]+$ ]] || max=128
	echo "$max"
}

# uWSGI refuses a backlog above the kernel's cap with a line that names no variable.
fu_check_listen() {
	local max
	max="$(fu_somaxconn)"
	if [ -n "${UWSGI_LISTEN:-}" ] && ((10#$UWSGI_LISTEN > max)); then
		fu_die "UWSGI_LISTEN=\"$UWSGI_LISTEN\" is above this container's net.core.somaxconn ($max): lower it, or raise the sysctl (docker run --sysctl net.core.somaxconn=$UWSGI_LISTEN)"
	fi
}

# usage: fu_ini_value FILE OPTION   -> the value FILE gives OPTION ("option = value")
fu_ini_value() {
	awk -F ' *= *' -v option="$2" '$1 == option { value = $2 } END { print value }' "$1"
}

fu_is_dev_image() { [ -f "$FLASK_UWSGI_ETC/debug.ini" ]; }

# The number of uWSGI workers when the debugger is on: one, unless the user
# asked for more with UWSGI_PROCESSES (each then gets its own debug port).
fu_debug_workers() {
	if [ -n "${UWSGI_PROCESSES:-}" ] && ((10#$UWSGI_PROCESSES > 1)); then
		echo "$((10#$UWSGI_PROCESSES))"
	else
		echo 1
	fi
}

# Sets FU_DEBUG to 1 when debugpy is to be injected into the workers.
fu_validate() {
	fu_check_port PORT
	fu_check_app_module
	fu_check_uwsgi_numbers
	fu_check_listen
	fu_bool HOT_RELOAD || :
	fu_bool ACCESS_LOG || :
	case "$HTTP_MODE" in
		router | direct | nginx) ;;
		*) fu_die "HTTP_MODE=\"$HTTP_MODE\" is not router, direct or nginx" ;;
	esac
	[[ "$MAX_REQUEST_BODY" =~ ^[1-9][0-9]{0,14}$ ]] || fu_die "MAX_REQUEST_BODY=\"$MAX_REQUEST_BODY\" is not a number of bytes"
	if ! [[ "$STOP_DRAIN_SECONDS" =~ ^[0-9]{1,4}$ ]] || ((10#$STOP_DRAIN_SECONDS > 3600)); then
		fu_die "STOP_DRAIN_SECONDS=\"$STOP_DRAIN_SECONDS\" is not a number of seconds (0-3600)"
	fi
	case "$LOG_FORMAT" in
		plain | json) ;;
		*) fu_die "LOG_FORMAT=\"$LOG_FORMAT\" is not plain or json" ;;
	esac
	if [ -n "$METRICS_PORT" ]; then
		fu_check_port METRICS_PORT
		((10#$METRICS_PORT != 10#$PORT)) || fu_die "METRICS_PORT=\"$METRICS_PORT\" is PORT too: metrics need a port of their own"
	fi
	FU_DEBUG=0
	fu_bool DEBUGPY_WAIT || :
	fu_check_port DEBUGPY_PORT
	if [ -z "${DEBUGPY_HOST:-}" ] || [[ "$DEBUGPY_HOST" =~ [[:space:]] ]]; then
		fu_die "DEBUGPY_HOST=\"${DEBUGPY_HOST:-}\" is not an address to listen on"
	fi
	if fu_bool DEBUGPY_ENABLE; then
		if ! fu_is_dev_image; then
			fu_warn "DEBUGPY_ENABLE=$DEBUGPY_ENABLE is ignored: this image has no debugger (use the :dev image)"
			return 0
		fi
		FU_DEBUG=1
		local workers last var
		case "${DEBUGPY_PORTS,,}" in
			one) last=$((10#$DEBUGPY_PORT)) ;;
			per-worker)
				workers="$(fu_debug_workers)"
				last=$((10#$DEBUGPY_PORT + workers - 1))
				if ((last > 65535)); then
					fu_die "DEBUGPY_PORT=\"$DEBUGPY_PORT\" leaves no room for $workers workers' ports (up to $last > 65535)"
				fi
				;;
			*) fu_die "DEBUGPY_PORTS=\"$DEBUGPY_PORTS\" is not one or per-worker" ;;
		esac
		for var in PORT METRICS_PORT; do
			if [ -n "${!var}" ] && ((10#${!var} >= 10#$DEBUGPY_PORT && 10#${!var} <= last)); then
				fu_die "$var=\"${!var}\" collides with the debug port$( ((last > 10#$DEBUGPY_PORT)) && echo "s $DEBUGPY_PORT-$last") (DEBUGPY_PORT)"
			fi
		done
	fi
}

# A fresh runtime directory for this start of the container (one left by an
# earlier run, after `docker restart`, names processes that are gone). A
# uWSGI restarted by supervisord keeps it: the debug hub outlives its master.
fu_prepare_run_dir() {
	rm -rf "$FLASK_UWSGI_RUN"
	mkdir -m 0700 "$FLASK_UWSGI_RUN" || fu_die "cannot create $FLASK_UWSGI_RUN (FLASK_UWSGI_RUN): /tmp must be writable"
}

# The CPUs this container may use: the affinity mask (docker run --cpuset-cpus),
# lowered to the CPU quota (--cpus, a Kubernetes CPU limit: cgroup v2 cpu.max,
# or v1 cpu.cfs_quota_us), rounded up.
fu_cpus() {
	local cpus quota period
	cpus="$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)"
	if [ -r /sys/fs/cgroup/cpu.max ]; then
		read -r quota period </sys/fs/cgroup/cpu.max
	elif [ -r /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
		quota="$(</sys/fs/cgroup/cpu/cpu.cfs_quota_us)" period="$(</sys/fs/cgroup/cpu/cpu.cfs_period_us)"
	fi
	if [[ "${quota:-max}" =~ ^[0-9]+$ ]] && ((period > 0)); then
		quota=$(((quota + period - 1) / period))
		((quota >= cpus)) || cpus=$quota
	fi
	echo "$cpus"
}

# uwsgi.ini's processes and threads, from the CPUs: two processes per CPU
# of 64 threads each (make bench's sizing table: on a view that waits, the
# threads in all serve at once, 128 per CPU, as many requests as 256
# clients keep in flight on 2 CPUs; on a view that computes, two processes
# per CPU beat one, whose threads share one interpreter lock, and 64 threads
# cost them little against 16). Debug mode keeps 16: every thread is one
# more in the debugger's list, and one worker serves there.
# /app/uwsgi.ini and UWSGI_PROCESSES, UWSGI_THREADS still win.
fu_size_workers() {
	local cpus threads=64
	cpus="$(fu_cpus)"
	if ((FU_DEBUG)); then threads=16; fi
	export FLASK_UWSGI_PROCESSES=$((2 * cpus)) FLASK_UWSGI_THREADS=$threads
	# What will run, as far as the variables say (/app/uwsgi.ini may say more).
	local processes="${UWSGI_PROCESSES:-$FLASK_UWSGI_PROCESSES}"
	if ((FU_DEBUG)); then
		processes="$(fu_debug_workers)"
	fi
	FU_SIZING="$cpus CPU(s): $((10#$processes)) processes x $((10#${UWSGI_THREADS:-$FLASK_UWSGI_THREADS})) threads"
}

# uwsgi.ini's listen: every socket's backlog, as deep as the kernel allows
# here. The router opens a connection to the workers' socket for each
# request it holds; with uWSGI's default of 100, 128 concurrent clients
# already lost requests. UWSGI_LISTEN or /app/uwsgi.ini still win.
fu_size_backlog() {
	local max
	max="$(fu_somaxconn)"
	if ((max < 1024)); then
		fu_warn "net.core.somaxconn is $max here: past $max concurrent clients, requests may be refused (docker run --sysctl net.core.somaxconn=4096)"
	fi
	FU_LISTEN="$max"
	FU_SIZING+=", listen backlog ${UWSGI_LISTEN:-$max}"
}

# HTTP_MODE=nginx: nginx.conf with this container's values, in the runtime
# directory (http-nginx.ini has uWSGI's master run it), checked now: a
# configuration nginx refuses stops the start here, with nginx's line, not
# in a loop of respawns. Its read timeout is the router's http-timeout, and
# debug.ini's in debug mode (a paused worker has no limit).
fu_write_nginx_conf() {
	[ "$HTTP_MODE" = nginx ] || return 0
	local conf timeout ini=http-router.ini
	((FU_DEBUG)) && ini=debug.ini
	timeout="$(fu_ini_value "$FLASK_UWSGI_ETC/$ini" http-timeout)"
	conf="$(<"$FLASK_UWSGI_ETC/nginx.conf")"
	conf="${conf//@RUN@/$FLASK_UWSGI_RUN}"
	conf="${conf//@PORT@/$((10#$PORT))}"
	conf="${conf//@BACKLOG@/$FU_LISTEN}"
	conf="${conf//@MAX_REQUEST_BODY@/$MAX_REQUEST_BODY}"
	conf="${conf//@READ_TIMEOUT@/${timeout:?$ini sets no http-timeout}s}"
	mkdir -p "$FLASK_UWSGI_RUN/nginx"
	printf '%s\n' "$conf" >"$FLASK_UWSGI_RUN/nginx.conf"
	local out
	out="$(nginx -t -q -e stderr -c "$FLASK_UWSGI_RUN/nginx.conf" 2>&1)" ||
		fu_die "HTTP_MODE=nginx: nginx refuses its configuration: ${out//$'\n'/ }"
}

# Drop-ins, in C-locale sorted order: *.envsh are sourced (they may export
# variables; FU_ENV_CHANGED records it), *.sh are run; a failure stops the
# container with its status.
fu_run_dropins() {
	local f status
	[ -d "$FLASK_UWSGI_DROPINS" ] || return 0
	while IFS= read -r -d '' f; do
		case "$f" in
			*.envsh)
				fu_log "sourcing $f"
				FU_ENV_CHANGED=1
				# shellcheck disable=SC1090
				. "$f" || fu_die "$f failed with exit status $?" "$?"
				;;
			*.sh)
				fu_log "running $f"
				status=0
				if [ -x "$f" ]; then "$f" || status=$?; else bash "$f" || status=$?; fi
				((status == 0)) || fu_die "$f failed with exit status $status" "$status"
				;;
			*) fu_warn "ignoring $f: drop-ins must end in .sh or .envsh" ;;
		esac
	done < <(find "$FLASK_UWSGI_DROPINS" -mindepth 1 -maxdepth 1 \( -type f -o -type l \) -print0 | LC_ALL=C sort -z)
}

fu_run_prestart() {
	if [ ! -e "$PRESTART_SCRIPT" ]; then
		if [ -n "${FU_PRESTART_EXPLICIT:-}" ]; then
			fu_die "PRESTART_SCRIPT=\"$PRESTART_SCRIPT\" does not exist"
		fi
		return 0
	fi
	fu_log "running $PRESTART_SCRIPT"
	local status=0
	bash "$PRESTART_SCRIPT" || status=$?
	((status == 0)) || fu_die "$PRESTART_SCRIPT failed with exit status $status" "$status"
}

# Whether the environment asks for OpenTelemetry: any OTEL_* variable, and
# OTEL_SDK_DISABLED not true (uwsgi/otel_traces.py, wanted, reads it alike).
fu_otel_wanted() {
	local disabled="${OTEL_SDK_DISABLED:-}"
	disabled="${disabled//[[:space:]]/}"
	[ "${disabled,,}" != true ] && compgen -e | grep -q '^OTEL_'
}

# Fills the array FU_UWSGI with the uWSGI command line, configuration layered
# as env.sh describes, and moves UWSGI_* variables onto it.
# usage: fu_uwsgi_command [EXTRA_UWSGI_ARG...]
fu_uwsgi_command() {
	fu_size_workers
	fu_size_backlog
	# uwsgi.ini reads these (and HTTP_MODE, PORT).
	FLASK_UWSGI_QUIET_REQUESTS=true
	if fu_bool ACCESS_LOG; then FLASK_UWSGI_QUIET_REQUESTS=false; fi
	export FLASK_UWSGI_QUIET_REQUESTS
	FU_UWSGI=(uwsgi --ini "$FLASK_UWSGI_ETC/uwsgi.ini" --listen "$FU_LISTEN" --ini "$FLASK_UWSGI_ETC/http-$HTTP_MODE.ini")
	if [ -n "$METRICS_PORT" ]; then
		FU_UWSGI+=(--ini "$FLASK_UWSGI_ETC/metrics.ini")
	fi
	if [ "$LOG_FORMAT" = json ]; then
		FU_UWSGI+=(--ini "$FLASK_UWSGI_ETC/log-json.ini")
	fi
	# OpenTelemetry's batch span processor starts a process's own export
	# thread from Python's after-fork hooks, which uWSGI runs around its forks
	# only when asked: without them, a worker that never made a span waited
	# 30 s at exit for the master's thread. py-call-uwsgi-fork-hooks, not
	# py-call-osafterfork, which kills every worker on Python 3.13 and later
	# (https://github.com/unbit/uwsgi/issues/2710). Only for traces, so that
	# nothing else changes how workers are forked.
	if fu_otel_wanted; then
		FU_UWSGI+=(--set "py-call-uwsgi-fork-hooks=true")
	fi
	if [ -f "$FLASK_UWSGI_APP_INI" ]; then
		FU_UWSGI+=(--ini "$FLASK_UWSGI_APP_INI")
	fi
	if ((FU_DEBUG)); then
		FU_UWSGI+=(--set "processes=$(fu_debug_workers)")
	fi
	# HOT_RELOAD reloads the workers only, each of which then imports the app
	# anew (uwsgi_hot_reload.py). A reloaded worker skips Py_Finalize on its
	# way out (its atexit functions still run): with the debugger that took
	# 0.14 s of each reload (median, 2 workers), nothing else needs it.
	if fu_bool HOT_RELOAD; then
		FU_UWSGI+=(--set "lazy-apps=true" --set "skip-atexit-teardown=true")
	fi
	# uWSGI reads UWSGI_* itself, but before its command line, so an ini file
	# given there would win. Passed here as --set, after the ini files, they
	# win; removed from the environment, list options are not added twice.
	# What debug.ini forces (no harakiri, no cheaper, ...) beats UWSGI_* too: say so.
	local var forced=" "
	if ((FU_DEBUG)); then
		forced+="$(awk -F ' *= *' '/^[a-z-]+ *= *[0-9]+$/ { printf "%s ", $1 }' "$FLASK_UWSGI_ETC/debug.ini")"
	fi
	# (a command substitution, not a process substitution: uWSGI, exec'd
	# next, must not inherit a child still exiting)
	for var in $(compgen -e | LC_ALL=C sort); do
		[[ "$var" == UWSGI_* ]] || continue
		fu_uwsgi_option "$var"
		if [[ "$forced" == *" $FU_OPTION "* ]]; then
			fu_warn "$var is ignored while the debugger is on: a worker paused at a breakpoint must not be killed"
		fi
		FU_UWSGI+=(--set "$FU_OPTION=${!var}")
		unset "$var"
	done
	FU_UWSGI+=("$@")
	if ((FU_DEBUG)); then
		FU_UWSGI+=(--ini "$FLASK_UWSGI_ETC/debug.ini")
		if [ "${DEBUGPY_PORTS,,}" = one ]; then
			FU_UWSGI+=(--ini "$FLASK_UWSGI_ETC/debug-one-port.ini")
		fi
	fi
}

# Dev image: supervisord becomes PID 1 and runs FU_UWSGI, which it reads,
# quoted, from FLASK_UWSGI_COMMAND (supervisor/supervisord.conf).
fu_exec_supervisord() {
	local arg mercy
	FLASK_UWSGI_COMMAND=""
	for arg in "${FU_UWSGI[@]}"; do
		# supervisord splits the command as Python's shlex does: plain
		# single-quoting, which knows no control characters.
		[[ "$arg" != *[[:cntrl:]]* ]] || fu_die "uWSGI arguments must not contain control characters (a newline, a tab): \"$arg\""
		# shellcheck disable=SC2089 # the quotes are for supervisord, not bash
		FLASK_UWSGI_COMMAND+="'${arg//\'/\'\\\'\'}' "
	done
	# supervisord waits this long for uWSGI to stop (supervisord.conf): the
	# drain, then a second more than uwsgi.ini's worker-reload-mercy.
	mercy="$(fu_ini_value "$FLASK_UWSGI_ETC/uwsgi.ini" worker-reload-mercy)"
	FLASK_UWSGI_STOP_WAIT=$((10#$STOP_DRAIN_SECONDS + 10#${mercy:?uwsgi.ini sets no worker-reload-mercy} + 1))
	# shellcheck disable=SC2090 # (the same)
	export FLASK_UWSGI_COMMAND FLASK_UWSGI_STOP_WAIT
	fu_log "starting supervisord"
	exec flask-uwsgi-supervisord -c "$FLASK_UWSGI_ETC/supervisord.conf"
}

# The boot sequence.
# usage: fu_serve [EXTRA_UWSGI_ARG...]
fu_serve() {
	fu_validate
	fu_prepare_run_dir
	fu_run_dropins
	fu_run_prestart
	if [ -n "${FU_ENV_CHANGED:-}" ]; then
		# A sourced drop-in may have exported new values: check them again.
		fu_validate
	fi
	fu_uwsgi_command "$@"
	fu_write_nginx_conf
	fu_log "$FU_SIZING, HTTP_MODE=$HTTP_MODE; starting: ${FU_UWSGI[*]}"
	if ((10#$STOP_DRAIN_SECONDS > 0)); then
		# uWSGI stops at once on SIGTERM: drain-on-term.sh drains first.
		FU_UWSGI=("$FLASK_UWSGI_LIB/drain-on-term.sh" "${FU_UWSGI[@]}")
	fi
	if [ -f "$FLASK_UWSGI_ETC/supervisord.conf" ]; then
		fu_exec_supervisord
	fi
	exec "${FU_UWSGI[@]}"
}

# usage: fu_name_app_owner UID GID   (dev image, as root, before the drop)
# The image user's name, app, follows the owner of /app, so that commands run
# later as app (`docker exec -u app`: VS Code's terminal in the examples' dev
# containers, `devcontainer exec`) run as the server does: same uid, same
# group, group 0 beside it. What they create in a bind-mounted source then
# belongs to the developer on the host too. Written only when it changes;
# with a read-only /etc a warning says so and the server starts anyway.
fu_name_app_owner() {
	local uid="$1" gid="$2" passwd="${FLASK_UWSGI_PASSWD:-/etc/passwd}" group="${FLASK_UWSGI_GROUP:-/etc/group}"
	local passwd_now group_now passwd_new group_new
	passwd_now="$(<"$passwd")" group_now="$(<"$group")"
	passwd_new="$(awk -F: -v OFS=: -v uid="$uid" -v gid="$gid" '$1 == "app" { $3 = uid; $4 = gid } 1' <<<"$passwd_now")"
	group_new="$group_now" # app's own group 0 needs no entry
	if [ "$gid" != 0 ]; then
		# Group 0's member list gains app (docker exec reads supplementary groups there).
		group_new="$(awk -F: -v OFS=: '$1 == "root" && $3 == 0 && $4 !~ /(^|,)app(,|$)/ {
			$4 = ($4 == "" ? "app" : $4 ",app") } 1' <<<"$group_now")"
	fi
	if { [ "$passwd_new" != "$passwd_now" ] && ! printf '%s\n' "$passwd_new" 2>/dev/null >"$passwd"; } ||
		{ [ "$group_new" != "$group_now" ] && ! printf '%s\n' "$group_new" 2>/dev/null >"$group"; }; then
		fu_warn "$passwd or $group is read-only: \`docker exec -u app\` does not run as the server's uid $uid"
	fi
}

# Dev image, started as root (its default user): go on as the owner of /app,
# whatever uid that is, before anything else runs. With the source
# bind-mounted from a Linux host, the app can then write into it (Flask's
# instance/, a SQLite file, uploads), and what it writes belongs to the
# developer on the host. A privilege drop here rather than uWSGI's uid/gid
# options or supervisord's user=: the hooks, supervisord, uWSGI, the debug
# hub and debugpy's adapter all run unprivileged, and nothing stays root.
# Group 0 is kept beside the owner's group, so the image's files (group 0)
# stay readable. A root-owned /app (nothing mounted, or a root-owned mount)
# means the image's own user (FLASK_UWSGI_UID). Started as anyone else (docker run
# --user, Compose's user:), nothing changes.
fu_become_app_owner() {
	[ "$(id -u)" = 0 ] && fu_is_dev_image || return 0
	local uid gid
	uid="$(stat -c %u /app)" gid="$(stat -c %g /app)"
	if [ "$uid" = 0 ]; then
		# shellcheck disable=SC2153 # the image's ENV (Dockerfile)
		uid="$FLASK_UWSGI_UID" gid=0
	fi
	fu_name_app_owner "$uid" "$gid"
	# A uid the image does not know has no home: the image user's is group-writable.
	export HOME=/home/app
	# The container's stdout and stderr belong to root; supervisord reopens
	# them (/dev/stdout) for uWSGI's logs, which needs them to be the user's.
	chown --dereference "$uid" "/proc/$$/fd/1" "/proc/$$/fd/2" 2>/dev/null || :
	exec setpriv --reuid="$uid" --regid="$gid" --groups=0 --inh-caps=-all -- "$FLASK_UWSGI_LIB/docker-entrypoint.sh" "$@"
}

# LOG_FORMAT=json: the entrypoint runs again under log_relay.py, which writes
# every line printed from then on (the entrypoint's, uWSGI's, the app's,
# supervisord's) as a JSON object. A value that is neither is refused later,
# by fu_validate, in plain text.
fu_relay_json_logs() {
	if [ "${LOG_FORMAT:-}" = json ] && [ -z "${FLASK_UWSGI_LOG_RELAY:-}" ]; then
		exec python3 "$FLASK_UWSGI_LIB/python/log_relay.py" "$FLASK_UWSGI_LIB/docker-entrypoint.sh" uwsgi "$@"
	fi
}

fu_main() {
	fu_become_app_owner "$@"
	# docker run IMAGE --processes 4: options for uWSGI
	if [ "${1:0:1}" = '-' ]; then
		set -- uwsgi "$@"
	fi
	if [ "$#" -eq 0 ] || [ "$1" = 'uwsgi' ]; then
		shift || :
		fu_relay_json_logs "$@"
		# Whether PRESTART_SCRIPT was set by the user, before env.sh defaults it.
		FU_PRESTART_EXPLICIT="${PRESTART_SCRIPT:+1}"
		# shellcheck source=entrypoint/env.sh
		. "$FLASK_UWSGI_LIB/env.sh"
		fu_serve "$@"
	fi
	exec "$@"
}

# Sourced (by the tests) for its functions; run as the entrypoint otherwise.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	fu_main "$@"
fi
