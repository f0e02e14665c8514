#!/usr/bin/env bash
# Build the prod and dev images (make images). Settings come from the Makefile:
#   PROD_IMAGE, DEV_IMAGE  image names (flask-uwsgi:latest, flask-uwsgi:dev)
#   PYTHON_VERSION         X.Y, one of python-versions (default: its default)
#   BASE_IMAGE             python:$PYTHON_VERSION-slim; when that cannot be
#                          pulled, the offline base of PYTHON_VERSION built from
#                          Debian's packages (scripts/base-offline.sh)
#   PLATFORM               linux/ARCH to build for another architecture than
#                          this machine's, under QEMU (scripts/emulation.sh
#                          sets it up); empty (default): this machine's
#   BUILDER                classic (default) or buildkit
#   VERSION, REVISION      OCI labels
set -Eeuo pipefail
cd "$(dirname "$0")/.."

: "${PYTHON_VERSION:=$(scripts/versions.sh default)}"
: "${BASE_IMAGE:=python:$PYTHON_VERSION-slim}"
: "${PROD_IMAGE:=flask-uwsgi:latest}"
: "${DEV_IMAGE:=flask-uwsgi:dev}"
: "${BUILDER:=classic}"
: "${PLATFORM:=}"
: "${VERSION:=dev}"
: "${REVISION:=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

host_arch="$(engine_arch)"
arch="$(target_arch)"
platform=(--platform "linux/$arch")

# The base image: present, else pulled, else (for the official image only)
# built from Debian's packages. The Dockerfile checks that its Python is
# PYTHON_VERSION, whichever it is.
resolve_base() {
	scripts/versions.sh eol "$PYTHON_VERSION" >/dev/null || exit 1
	# A local tag holds one architecture (python:X.Y-slim pulled for amd64,
	# say): another one's is pulled again for this build, or is an error.
	local found
	found="$(docker image inspect -f '{{.Architecture}}' "$BASE_IMAGE" 2>/dev/null)" || found=""
	if [ -n "$found" ] && [ "$found" != "$arch" ]; then
		docker pull -q "${platform[@]}" "$BASE_IMAGE" >/dev/null 2>&1 ||
			die "BASE_IMAGE=$BASE_IMAGE on this engine is $found, not $arch, and cannot be pulled for linux/$arch"
		return 0
	fi
	if [ -n "$found" ] || docker pull -q "${platform[@]}" "$BASE_IMAGE" >/dev/null 2>&1; then
		return 0
	fi
	[ "$BASE_IMAGE" = "python:$PYTHON_VERSION-slim" ] || die "BASE_IMAGE=$BASE_IMAGE cannot be pulled"
	local suite offline
	offline="$(offline_base "$PYTHON_VERSION" "$arch")"
	suite="$(scripts/versions.sh suite "$PYTHON_VERSION")" || exit 1
	PLATFORM="linux/$arch" scripts/base-offline.sh "$offline"
	say "$BASE_IMAGE cannot be pulled: building on $offline (Debian $suite, Python" \
		"$(docker image inspect -f '{{index .Config.Labels "io.github.flask-uwsgi.python-version"}}' "$offline"))"
	BASE_IMAGE="$offline"
}

# Before the build, so the error is one line (docker build -q shows none).
check_base_python() {
	local python
	python="$(docker run --rm "${platform[@]}" --entrypoint python3 "$BASE_IMAGE" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" ||
		die "BASE_IMAGE=$BASE_IMAGE has no python3"
	[ "$python" = "$PYTHON_VERSION" ] || die "BASE_IMAGE=$BASE_IMAGE has Python $python, not PYTHON_VERSION=$PYTHON_VERSION"
}

# Another architecture's images on an offline base: uWSGI is cross-compiled
# here first (scripts/Dockerfile.uwsgi-cross, on this machine's twin of that
# base), and the builder stage takes its wheel (UWSGI_WHEELS) instead of
# running gcc under QEMU. Other bases compile it under QEMU, as does BuildKit
# here (a local image of this machine's architecture is no stage of its build).
uwsgi_wheels=()
suite_of() { docker image inspect -f '{{index .Config.Labels "io.github.flask-uwsgi.debian-suite"}}' "$1"; }
cross_compile_uwsgi() {
	[ "$arch" != "$host_arch" ] || return 0
	local suite twin tag="flask-uwsgi-uwsgi-cross:py$PYTHON_VERSION-$arch"
	twin="$(offline_base "$PYTHON_VERSION" "$host_arch")"
	suite="$(suite_of "$BASE_IMAGE")"
	if [ -z "$suite" ] || [ "$BUILDER" != classic ]; then
		say "uWSGI is compiled under QEMU for $arch (BASE_IMAGE=$BASE_IMAGE, $BUILDER builder): this takes a while"
		return 0
	fi
	PLATFORM="" scripts/base-offline.sh "$twin"
	[ "$(suite_of "$twin")" = "$suite" ] ||
		die "$twin is Debian $(suite_of "$twin"), $BASE_IMAGE is $suite: FORCE=1 make base-offline rebuilds $twin"
	say "cross-compiling uWSGI for $arch on $twin ($tag)"
	build -q -f scripts/Dockerfile.uwsgi-cross -t "$tag" --build-arg "BUILD_BASE_IMAGE=$twin" \
		--build-arg "PYTHON_VERSION=$PYTHON_VERSION" --build-arg "TARGET_ARCH=$arch" . >/dev/null
	uwsgi_wheels=(--build-arg "UWSGI_WHEELS=$tag")
}

build() {
	case "$BUILDER" in
		# Newer clients warn on every classic build; the warning is not news here.
		classic) DOCKER_BUILDKIT=0 docker build "$@" 2> >(grep -v -e 'legacy builder is deprecated' \
			-e 'BuildKit is currently disabled' -e '^ *environment-variable\.$' -e '^$' >&2) ;;
		buildkit) DOCKER_BUILDKIT=1 "$(buildkit_client)" build --progress=plain "$@" ;;
		*) die "BUILDER=$BUILDER is not classic or buildkit" ;;
	esac
}

[ "$arch" = "$host_arch" ] || scripts/emulation.sh start "$arch"
resolve_base
check_base_python
cross_compile_uwsgi
say "building $PROD_IMAGE on $BASE_IMAGE ($BUILDER builder, $arch)"
build -q "${platform[@]}" "${uwsgi_wheels[@]}" -f Dockerfile -t "$PROD_IMAGE" \
	--build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "PYTHON_VERSION=$PYTHON_VERSION" \
	--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" . >/dev/null
say "building $DEV_IMAGE on $PROD_IMAGE"
build -q "${platform[@]}" -f Dockerfile.dev -t "$DEV_IMAGE" --build-arg "PROD_IMAGE=$PROD_IMAGE" . >/dev/null
# The image's own metadata must say the architecture it holds: registries,
# docker run and Kubernetes choose by it, not by the binaries inside.
for tag in "$PROD_IMAGE" "$DEV_IMAGE"; do
	built="$(docker image inspect -f '{{.Architecture}}' "$tag")"
	[ "$built" = "$arch" ] || die "$tag says it is $built, not $arch"
	say "$tag: $(docker image inspect -f '{{.Size}}' "$tag") bytes, $built"
done
