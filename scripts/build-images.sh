#!/usr/bin/env bash
# Build the prod and dev images (make images). Settings come from the Makefile:
#   PROD_IMAGE, DEV_IMAGE  image names (flask-uwsgi:latest, flask-uwsgi:dev)
#   PYTHON_VERSION         X.Y, one of python-versions (default: its default)
#   BASE_IMAGE             python:$PYTHON_VERSION-slim; when that cannot be
#                          pulled, the offline base of PYTHON_VERSION built from
#                          Debian's packages (scripts/base-offline.sh)
#   BUILDER                classic (default) or buildkit
#   VERSION, REVISION      OCI labels
set -Eeuo pipefail
cd "$(dirname "$0")/.."

: "${PYTHON_VERSION:=$(scripts/versions.sh default)}"
: "${BASE_IMAGE:=python:$PYTHON_VERSION-slim}"
: "${PROD_IMAGE:=flask-uwsgi:latest}"
: "${DEV_IMAGE:=flask-uwsgi:dev}"
: "${BUILDER:=classic}"
: "${VERSION:=dev}"
: "${REVISION:=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# The base image: present, else pulled, else (for the official image only)
# built from Debian's packages. The Dockerfile checks that its Python is
# PYTHON_VERSION, whichever it is.
resolve_base() {
	scripts/versions.sh eol "$PYTHON_VERSION" >/dev/null || exit 1
	if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
		return 0
	fi
	[ "$BASE_IMAGE" = "python:$PYTHON_VERSION-slim" ] || die "BASE_IMAGE=$BASE_IMAGE cannot be pulled"
	local suite offline="flask-uwsgi-base:$PYTHON_VERSION"
	suite="$(scripts/versions.sh suite "$PYTHON_VERSION")" || exit 1
	scripts/base-offline.sh "$offline"
	say "$BASE_IMAGE cannot be pulled: building on $offline (Debian $suite, Python" \
		"$(docker image inspect -f '{{index .Config.Labels "io.github.flask-uwsgi.python-version"}}' "$offline"))"
	BASE_IMAGE="$offline"
}

# Before the build, so the error is one line (docker build -q shows none).
check_base_python() {
	local python
	python="$(docker run --rm --entrypoint python3 "$BASE_IMAGE" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" ||
		die "BASE_IMAGE=$BASE_IMAGE has no python3"
	[ "$python" = "$PYTHON_VERSION" ] || die "BASE_IMAGE=$BASE_IMAGE has Python $python, not PYTHON_VERSION=$PYTHON_VERSION"
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
check_base_python
say "building $PROD_IMAGE on $BASE_IMAGE ($BUILDER builder)"
build -q -f Dockerfile -t "$PROD_IMAGE" \
	--build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "PYTHON_VERSION=$PYTHON_VERSION" \
	--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" . >/dev/null
say "building $DEV_IMAGE on $PROD_IMAGE"
build -q -f Dockerfile.dev -t "$DEV_IMAGE" --build-arg "PROD_IMAGE=$PROD_IMAGE" . >/dev/null
for tag in "$PROD_IMAGE" "$DEV_IMAGE"; do
	say "$tag: $(docker image inspect -f '{{.Size}}' "$tag") bytes"
done
