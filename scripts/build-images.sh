#!/usr/bin/env bash
# Build the prod and dev images (make images). Settings come from the Makefile:
#   PROD_IMAGE, DEV_IMAGE      image names (flask-uwsgi:latest, flask-uwsgi:dev)
#   PYTHON_VERSION         3.12
#   BASE_IMAGE             python:$PYTHON_VERSION-slim
#   OFFLINE_SUITE          Debian suite for the offline base when BASE_IMAGE
#                          cannot be pulled (default: trixie for 3.13+, else bookworm)
#   BUILDER                classic (default) or buildkit
#   VERSION, REVISION      OCI labels
set -Eeuo pipefail
cd "$(dirname "$0")/.."

: "${PYTHON_VERSION:=3.12}"
: "${BASE_IMAGE:=python:$PYTHON_VERSION-slim}"
: "${PROD_IMAGE:=flask-uwsgi:latest}"
: "${DEV_IMAGE:=flask-uwsgi:dev}"
: "${BUILDER:=classic}"
: "${VERSION:=dev}"
: "${REVISION:=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

default_suite() {
	case "$PYTHON_VERSION" in
		3.1[3-9]*) echo trixie ;;
		*) echo bookworm ;;
	esac
}

# The base image: present, else pulled, else built from Debian's packages.
resolve_base() {
	if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
		return 0
	fi
	if docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
		return 0
	fi
	local suite="${OFFLINE_SUITE:-$(default_suite)}"
	local offline="flask-uwsgi-base:$suite"
	OFFLINE_SUITE="$suite" scripts/base-offline.sh "$offline"
	local py
	py="$(docker image inspect -f '{{index .Config.Labels "io.github.flask-uwsgi.python-version"}}' "$offline")"
	say "$BASE_IMAGE cannot be pulled: building on $offline instead (Debian $suite, Python $py; PYTHON_VERSION=$PYTHON_VERSION does not apply)"
	BASE_IMAGE="$offline"
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

resolve_base
say "building $PROD_IMAGE on $BASE_IMAGE ($BUILDER builder)"
build -q -f Dockerfile -t "$PROD_IMAGE" \
	--build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "PYTHON_VERSION=$PYTHON_VERSION" \
	--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" . >/dev/null
say "building $DEV_IMAGE on $PROD_IMAGE"
build -q -f Dockerfile.dev -t "$DEV_IMAGE" --build-arg "PROD_IMAGE=$PROD_IMAGE" . >/dev/null
for tag in "$PROD_IMAGE" "$DEV_IMAGE"; do
	say "$tag: $(docker image inspect -f '{{.Size}}' "$tag") bytes"
done
