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

# usage: since "$EPOCHREALTIME-then"   seconds from then to now, one decimal
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

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

# cosign as Debian 13 trixie packages it, pinned by version and sha256 and
# downloaded once into .cache/tools: the release job and make ci-local run the
# same binary. It needs nothing but libc, so it runs on any amd64 Debian from
# bookworm on. Debian's pool keeps a version only while a suite ships it: when
# the download fails, pin the version trixie has now (name and sha256 below).
COSIGN_DEB=cosign_2.5.0-2+b5_amd64.deb
COSIGN_DEB_SHA256=3b6eadd27f3c4c00bfa7eab5c2397a6a15a763630c7a1d40d06ff60d24799eef
COSIGN_DEB_URL="https://deb.debian.org/debian/pool/main/c/cosign/$COSIGN_DEB"

# usage: cosign_tool   prints the path of the pinned cosign, installed first if missing
cosign_tool() {
	local dir=".cache/tools/${COSIGN_DEB%.deb}"
	if [ ! -x "$dir/usr/bin/cosign" ]; then
		[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] ||
			die "COSIGN_DEB=$COSIGN_DEB (scripts/lib.sh) is for amd64 Debian, not $(uname -m) $(dpkg --print-architecture 2>/dev/null)"
		command -v curl >/dev/null || apt_install "downloading cosign needs curl" curl
		mkdir -p .cache/tools
		say "downloading $COSIGN_DEB_URL"
		curl -fsSL --retry 3 -o "$dir.deb" "$COSIGN_DEB_URL" ||
			die "downloading COSIGN_DEB_URL=$COSIGN_DEB_URL failed (pinned in scripts/lib.sh)"
		printf '%s  %s\n' "$COSIGN_DEB_SHA256" "$dir.deb" | sha256sum --check --status 2>/dev/null || {
			rm -f "$dir.deb"
			die "$COSIGN_DEB_URL does not have COSIGN_DEB_SHA256=$COSIGN_DEB_SHA256 (scripts/lib.sh)"
		}
		rm -rf "$dir.part"
		dpkg-deb -x "$dir.deb" "$dir.part" || die "$dir.deb cannot be unpacked (dpkg-deb)"
		rm -rf "$dir" && mv "$dir.part" "$dir" && rm -f "$dir.deb"
	fi
	echo "$PWD/$dir/usr/bin/cosign"
}

# usage: engine_arch   the Docker engine's architecture, in Docker's names (amd64, arm64)
engine_arch() { docker version -f '{{.Server.Arch}}'; }

# usage: target_arch   the architecture PLATFORM names (empty: the engine's own),
# in Docker's names; anything but the engine's own and linux/arm64 is an error.
target_arch() {
	local host
	host="$(engine_arch)" || die "no Docker engine answers"
	case "${PLATFORM:-}" in
		"" | "linux/$host") echo "$host" ;;
		linux/arm64) echo arm64 ;;
		*) die "PLATFORM=$PLATFORM is not supported: linux/$host (this engine's) or linux/arm64" ;;
	esac
}

# usage: offline_base PYTHON ARCH   the name of scripts/base-offline.sh's base
# of that Python for that architecture (the engine's own: no suffix)
offline_base() {
	if [ "$2" = "$(engine_arch)" ]; then echo "flask-uwsgi-base:$1"; else echo "flask-uwsgi-base:$1-$2"; fi
}
