#!/usr/bin/env bash
# The steps of the GitLab pipeline (.gitlab-ci.yml), one subcommand each, so
# that a job is one line and `make ci-local` runs the very same steps.
#
#   scripts/ci.sh tools [COMMAND...]   install make, git and COMMANDs if missing
#   scripts/ci.sh hadolint|shellcheck|ruff
#                                      lint, writing GitLab code quality reports
#   scripts/ci.sh login                docker login to CI_REGISTRY
#   scripts/ci.sh build prod|dev       build PROD_IMAGE or DEV_IMAGE and push it
#   scripts/ci.sh release              copy the per-commit tags to release tags
#
# Settings (GitLab's predefined variables, plus .gitlab-ci.yml's):
#   PYTHON_VERSION, PROD_IMAGE, DEV_IMAGE, DEFAULT_PYTHON
#   BUILD_PLATFORMS    linux/amd64,linux/arm64: buildx, QEMU, registry cache;
#                      empty: the engine's own BuildKit, its own platform, inline cache
#   BASE_IMAGE         default python:$PYTHON_VERSION-slim
#   OFFLINE_BASE=1     build on Debian's own Python instead (scripts/base-offline.sh);
#                      only for the versions python-versions gives a Debian suite
#   REGISTRY_TLS_VERIFY  false for a plain-HTTP registry (release only)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

need() {
	local name
	for name in "$@"; do
		[ -n "${!name:-}" ] || die "$name is not set (a GitLab predefined or .gitlab-ci.yml variable)"
	done
}

# ------------------------------------------------------------------ tools
tools() {
	local missing=() cmd
	for cmd in make git "$@"; do
		command -v "$cmd" >/dev/null || missing+=("$cmd")
	done
	[ "${#missing[@]}" = 0 ] || apt_install "the job needs ${missing[*]}" "${missing[@]}"
}

# A Makefile variable, so the lint jobs check the files `make lint` checks.
make_var() { make -s --no-print-directory "ci-print-$1"; }

# ------------------------------------------------------------------ lint
hadolint_report() {
	local report=gl-code-quality-hadolint.json files
	read -r -a files <<<"$(make_var DOCKERFILES)"
	.venv/bin/hadolint --format gitlab_codeclimate "${files[@]}" >"$report" && return 0
	# The report is for GitLab; the log gets the readable findings.
	.venv/bin/hadolint "${files[@]}" || true
	die "hadolint found problems in ${files[*]} (report: $report)"
}

shellcheck_files() {
	# shellcheck disable=SC2046 # the Makefile's globs, split on purpose
	.venv/bin/shellcheck -x $(make_var SHELL_FILES)
}

ruff_report() {
	local report=gl-code-quality-ruff.json files
	read -r -a files <<<"$(make_var PYTHON_FILES) examples"
	if ! .venv/bin/ruff check --output-format gitlab "${files[@]}" >"$report"; then
		.venv/bin/ruff check --output-format concise "${files[@]}" || true
		die "ruff check found problems (report: $report)"
	fi
	.venv/bin/ruff format --check "${files[@]}"
}

# ------------------------------------------------------------------ registry
login() {
	need CI_REGISTRY CI_REGISTRY_USER CI_REGISTRY_PASSWORD
	printf '%s' "$CI_REGISTRY_PASSWORD" |
		docker login --username "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY" >/dev/null ||
		die "docker login to CI_REGISTRY=$CI_REGISTRY failed"
	say "logged in to $CI_REGISTRY"
}

# ------------------------------------------------------------------ build
base_image() {
	if [ "${OFFLINE_BASE:-}" != 1 ]; then
		echo "${BASE_IMAGE:-python:$PYTHON_VERSION-slim}"
		return 0
	fi
	# python-versions says which Debian suite ships PYTHON_VERSION, if any.
	local name="flask-uwsgi-base:$PYTHON_VERSION"
	PYTHON_VERSION="$PYTHON_VERSION" scripts/base-offline.sh "$name" >&2 || exit 1
	echo "$name"
}

# Register QEMU for every platform in BUILD_PLATFORMS this machine cannot run,
# and use a BuildKit container: the engine's own builder builds one platform.
setup_buildx() {
	local native arch archs=()
	native="$(docker version -f '{{.Server.Arch}}')"
	for arch in ${BUILD_PLATFORMS//,/ }; do
		arch="${arch#linux/}"
		[ "$arch" = "$native" ] || archs+=("$arch")
	done
	if [ "${#archs[@]}" -gt 0 ]; then
		local IFS=,
		docker run --rm --privileged "$BINFMT_IMAGE" --install "${archs[*]}" >/dev/null
	fi
	docker buildx inspect flask-uwsgi >/dev/null 2>&1 ||
		docker buildx create --name flask-uwsgi --driver docker-container \
			--driver-opt "image=$BUILDKIT_IMAGE" >/dev/null
	docker buildx use flask-uwsgi
	docker buildx inspect --bootstrap >/dev/null
}

# All platforms in one build; the cache is a separate registry artifact, all
# layers included (mode=max), so the builder stage is cached too.
build_buildx() {
	local tag="$1" cache="$2"
	shift 2
	setup_buildx
	docker buildx build --progress=plain --platform "$BUILD_PLATFORMS" --provenance=false \
		--cache-from "type=registry,ref=$cache" \
		--cache-to "type=registry,ref=$cache,mode=max,image-manifest=true,oci-mediatypes=true" \
		--tag "$tag" --push "$@" .
}

# The engine's platform only; the cache travels inside the cache image.
build_engine() {
	local tag="$1" cache="$2"
	shift 2
	DOCKER_BUILDKIT=1 "$(buildkit_client)" build --progress=plain \
		--build-arg BUILDKIT_INLINE_CACHE=1 --cache-from "$cache" \
		--tag "$tag" --tag "$cache" "$@" .
	docker push -q "$tag"
	docker push -q "$cache"
	# Later jobs on this engine (make ci-local) get the image from the registry
	# only, as they would on GitLab.
	docker image rm "$tag" "$cache" >/dev/null
}

build() {
	need CI_REGISTRY_IMAGE PYTHON_VERSION PROD_IMAGE DEV_IMAGE
	local variant="${1:-}" tag base args=()
	case "$variant" in
		prod)
			tag="$PROD_IMAGE"
			base="$(base_image)"
			args=(--file Dockerfile --build-arg "BASE_IMAGE=$base"
				--build-arg "PYTHON_VERSION=$PYTHON_VERSION"
				--build-arg "VERSION=${CI_COMMIT_TAG:-${CI_COMMIT_SHORT_SHA:-dev}}"
				--build-arg "REVISION=${CI_COMMIT_SHA:-unknown}")
			;;
		dev)
			tag="$DEV_IMAGE"
			args=(--file Dockerfile.dev --build-arg "PROD_IMAGE=$PROD_IMAGE")
			;;
		*) die "usage: $0 build prod|dev" ;;
	esac
	local cache="$CI_REGISTRY_IMAGE/cache:py$PYTHON_VERSION-$variant"
	local platforms="${BUILD_PLATFORMS:-the engine platform only}"
	say "building $tag for $platforms (cache: $cache)"
	if [ -n "${BUILD_PLATFORMS:-}" ]; then
		build_buildx "$tag" "$cache" "${args[@]}"
	else
		[ "$variant" = prod ] || docker pull -q "$PROD_IMAGE" >/dev/null
		build_engine "$tag" "$cache" "${args[@]}"
		[ "$variant" = prod ] || docker image rm "$PROD_IMAGE" >/dev/null
	fi
	say "pushed $tag"
}

# ------------------------------------------------------------------ release
# "source destination-tag" lines: what this pipeline publishes.
release_tags() {
	local py="$PYTHON_VERSION" default=""
	[ "$py" = "$DEFAULT_PYTHON" ] && default=1
	if [ -n "${CI_COMMIT_TAG:-}" ]; then
		local version="${CI_COMMIT_TAG#v}"
		[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "CI_COMMIT_TAG=$CI_COMMIT_TAG is not a version (1.2.3 or v1.2.3)"
		echo "$PROD_IMAGE $version-py$py"
		echo "$DEV_IMAGE $version-py$py-dev"
		[ -z "$default" ] || printf '%s %s\n' "$PROD_IMAGE" "$version" "$DEV_IMAGE" "$version-dev"
	elif [ -n "${CI_COMMIT_BRANCH:-}" ] && [ "$CI_COMMIT_BRANCH" = "${CI_DEFAULT_BRANCH:-}" ]; then
		echo "$PROD_IMAGE $py"
		echo "$DEV_IMAGE $py-dev"
		[ -z "$default" ] || printf '%s %s\n' "$PROD_IMAGE" latest "$DEV_IMAGE" dev
	else
		die "release runs for the default branch ($CI_DEFAULT_BRANCH) or a version tag, not ${CI_COMMIT_BRANCH:-this ref}"
	fi
}

release() {
	need CI_REGISTRY CI_REGISTRY_IMAGE CI_REGISTRY_USER CI_REGISTRY_PASSWORD PYTHON_VERSION DEFAULT_PYTHON
	local tls="${REGISTRY_TLS_VERIFY:-true}" dir authfile source tag
	# Credentials of this job only (skopeo wants a file that is absent or JSON).
	dir="$(mktemp -d)"
	authfile="$dir/auth.json"
	trap 'rm -rf "$dir"' RETURN
	printf '%s' "$CI_REGISTRY_PASSWORD" | skopeo login --authfile "$authfile" --tls-verify="$tls" \
		--username "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY" >/dev/null ||
		die "skopeo login to CI_REGISTRY=$CI_REGISTRY failed"
	release_tags >"$dir/tags"
	while read -r source tag; do
		# --all: the manifest list and every architecture's image, not just ours.
		skopeo copy --quiet --all --retry-times 3 --authfile "$authfile" \
			--src-tls-verify="$tls" --dest-tls-verify="$tls" \
			"docker://$source" "docker://$CI_REGISTRY_IMAGE:$tag" ||
			die "copying $source to $CI_REGISTRY_IMAGE:$tag failed"
		say "released $CI_REGISTRY_IMAGE:$tag ($source)"
	done <"$dir/tags"
}

case "${1:-}" in
	tools) tools "${@:2}" ;;
	hadolint) hadolint_report ;;
	shellcheck) shellcheck_files ;;
	ruff) ruff_report ;;
	login) login ;;
	build) build "${2:-}" ;;
	release) release ;;
	*) die "usage: $0 tools|hadolint|shellcheck|ruff|login|build prod|dev|release" ;;
esac
