#!/usr/bin/env bash
# The SBOMs of the prod and dev images (make sbom, and the pipeline's sbom
# job): what each image contains, Debian and Python packages with their
# versions and package URLs, as CycloneDX JSON and SPDX JSON.
#
#   scripts/sbom.sh [prod] [dev]   both when none is named
#
# Settings:
#   PROD_IMAGE, DEV_IMAGE  the images (flask-uwsgi:latest, flask-uwsgi:dev)
#   SBOM_DIR               where to write <variant>.cdx.json and <variant>.spdx.json
#                          (sbom/py<PYTHON_VERSION>, git-ignored)
#   SBOM_SOURCE            docker: the images on this machine's Docker engine (default);
#                          registry: read straight from their registry, no engine
#                          needed (CI); REGISTRY_TLS_VERIFY=false for plain HTTP,
#                          CI_REGISTRY and its user and password when it needs a login
#   SBOM_PLATFORM          registry only: the platform of a multi-platform image
#                          (default: syft's, this machine's)
#
# syft is the pinned one in .venv (requirements/test.txt; make venv). It
# writes nothing outside the checkout and the temporary folder: no update
# check, and its cache in .cache/syft.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

: "${PYTHON_VERSION:=$(scripts/versions.sh default)}"
: "${PROD_IMAGE:=flask-uwsgi:latest}"
: "${DEV_IMAGE:=flask-uwsgi:dev}"
: "${SBOM_DIR:=sbom/py$PYTHON_VERSION}"
: "${SBOM_SOURCE:=docker}"
syft=.venv/bin/syft

setup_syft() {
	[ -x "$syft" ] || die "$syft is missing: run make venv (requirements/test.txt pins syft)"
	export SYFT_CHECK_FOR_APP_UPDATE=false SYFT_CACHE_DIR="$PWD/.cache/syft"
	case "$SBOM_SOURCE" in
		docker) ;;
		registry)
			[ "${REGISTRY_TLS_VERIFY:-true}" = true ] || export SYFT_REGISTRY_INSECURE_USE_HTTP=true
			if [ -n "${CI_REGISTRY_PASSWORD:-}" ]; then
				export SYFT_REGISTRY_AUTH_AUTHORITY="$CI_REGISTRY" SYFT_REGISTRY_AUTH_USERNAME="$CI_REGISTRY_USER" \
					SYFT_REGISTRY_AUTH_PASSWORD="$CI_REGISTRY_PASSWORD"
			fi
			;;
		*) die "SBOM_SOURCE=$SBOM_SOURCE is not docker or registry" ;;
	esac
	mkdir -p "$SBOM_DIR" || die "SBOM_DIR=$SBOM_DIR cannot be created"
}

# usage: image_of prod|dev
image_of() {
	case "$1" in
		prod) echo "$PROD_IMAGE" ;;
		dev) echo "$DEV_IMAGE" ;;
		*) die "usage: $0 [prod] [dev] (not $1)" ;;
	esac
}

# One line rather than syft's own error when the image is not there.
check_image() {
	local variant="$1" image="$2"
	[ "$SBOM_SOURCE" = docker ] || return 0
	docker image inspect "$image" >/dev/null 2>&1 ||
		die "${variant^^}_IMAGE=$image is not on this Docker engine: make images builds it"
}

# Both formats from one catalog. The .NET cataloger is left out: the only
# .NET files in the images are the Windows launchers that pip bundles
# (distlib's *.exe), which would be listed as packages of their own.
scan() {
	local variant="$1" image="$2" source args=()
	case "$SBOM_SOURCE" in
		docker) source="docker:$image" ;;
		registry)
			source="registry:$image"
			[ -z "${SBOM_PLATFORM:-}" ] || args+=(--platform "$SBOM_PLATFORM")
			;;
	esac
	"$syft" scan "$source" "${args[@]}" --quiet --select-catalogers "-dotnet" \
		--output "cyclonedx-json=$SBOM_DIR/$variant.cdx.json" \
		--output "spdx-json=$SBOM_DIR/$variant.spdx.json" ||
		die "syft could not read $image ($source)"
}

# "105 components: 95 deb, 9 pypi, ..." from the CycloneDX file.
count() {
	.venv/bin/python - "$1" <<-'PYTHON'
		import collections, json, sys
		components = json.load(open(sys.argv[1]))["components"]
		kinds = collections.Counter((c.get("purl") or "pkg:none/").split("/")[0].removeprefix("pkg:") for c in components)
		kinds.pop("none", None)  # the operating system itself, no package
		print(f"{len(components)} components: " + ", ".join(f"{n} {kind}" for kind, n in kinds.most_common()))
	PYTHON
}

main() {
	local variants=("$@") variant image
	[ "${#variants[@]}" -gt 0 ] || variants=(prod dev)
	setup_syft
	for variant in "${variants[@]}"; do
		image="$(image_of "$variant")"
		check_image "$variant" "$image"
		scan "$variant" "$image"
		say "sbom: $image: $(count "$SBOM_DIR/$variant.cdx.json") ($SBOM_DIR/$variant.cdx.json, $variant.spdx.json)"
	done
}

main "$@"
