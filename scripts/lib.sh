# shellcheck shell=bash
# Helpers shared by the scripts in this folder; sourced, not run.

say() { printf 'flask-uwsgi: %s\n' "$*" >&2; }

die() {
	say "error: $*"
	exit 1
}

# usage: wait_until SECONDS COMMAND...   poll every 0.2 s; status 1 on timeout
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

# usage: apt_install WHY PACKAGE...   as root on Debian-like systems only
apt_install() {
	local why="$1"
	shift
	command -v apt-get >/dev/null || die "$why, and this is not a Debian-like system: install $*"
	[ "$(id -u)" = 0 ] || die "$why, and installing $* needs root"
	say "installing $* ($why)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# A client that can drive BuildKit: DOCKER_CLIENT, else docker with buildx,
# else Debian's docker.io client (20.10 speaks to the engine's BuildKit itself).
buildkit_client() {
	if [ -n "${DOCKER_CLIENT:-}" ]; then
		echo "$DOCKER_CLIENT"
	elif ! docker buildx version >/dev/null 2>&1 && [ -x /usr/bin/docker ]; then
		echo /usr/bin/docker
	else
		echo docker
	fi
}
