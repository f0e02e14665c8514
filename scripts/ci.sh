#!/usr/bin/env bash
# The steps of the GitLab pipeline (.gitlab-ci.yml), one subcommand each, so
# that a job is one line and `make ci-local` runs the very same steps.
#
#   scripts/ci.sh tools [COMMAND...]   install make, git and COMMANDs if missing
#   scripts/ci.sh hadolint|shellcheck|ruff
#                                      lint, writing GitLab code quality reports
#   scripts/ci.sh login                docker login to CI_REGISTRY
#   scripts/ci.sh build prod|dev       build PROD_IMAGE or DEV_IMAGE and push it
#   scripts/ci.sh sbom                 the SBOMs of the pushed PROD_IMAGE and DEV_IMAGE,
#                                      of each platform
#   scripts/ci.sh sign                 sign their digests and each platform's, and
#                                      attest the SBOMs on them (cosign)
#   scripts/ci.sh release              copy the per-commit tags to release tags
#   scripts/ci.sh scan-findings        list the High and Critical container scanning findings
#
# Settings (GitLab's predefined variables, plus .gitlab-ci.yml's):
#   PYTHON_VERSION, PROD_IMAGE, DEV_IMAGE, DEFAULT_PYTHON
#   BUILD_PLATFORMS    linux/amd64,linux/arm64: buildx, QEMU, registry cache;
#                      empty: the engine's own BuildKit, its own platform, inline cache
#   BASE_IMAGE         default python:$PYTHON_VERSION-slim
#   OFFLINE_BASE=1     build on Debian's own Python instead (scripts/base-offline.sh);
#                      only for the versions python-versions gives a Debian suite
#   REGISTRY_TLS_VERIFY  false for a plain-HTTP registry (sbom, sign, release)
#   SBOM_DIR           the SBOMs' folder (sbom/py$PYTHON_VERSION; sbom_dir below)
#   COSIGN_KEY         sign with this key (a file, env://VAR or a KMS URI;
#                      COSIGN_PASSWORD unlocks it) instead of keyless with
#                      SIGSTORE_ID_TOKEN (GitLab's id_tokens)
#   COSIGN             a cosign to use instead of the pinned one (scripts/lib.sh)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

tls="${REGISTRY_TLS_VERIFY:-true}"

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
	read -r -a files <<<"$(make_var PYTHON_FILES)"
	if ! .venv/bin/ruff check --output-format gitlab "${files[@]}" >"$report"; then
		.venv/bin/ruff check --output-format concise "${files[@]}" || true
		die "ruff check found problems (report: $report)"
	fi
	.venv/bin/ruff format --check "${files[@]}"
}

# ------------------------------------------------------------------ registry
# usage: registry_login TOOL [OPTION...]   `TOOL login` to CI_REGISTRY with the
# job's credentials: docker (login), or skopeo into an auth file of the job's
# own (sign, release).
registry_login() {
	need CI_REGISTRY CI_REGISTRY_USER CI_REGISTRY_PASSWORD
	printf '%s' "$CI_REGISTRY_PASSWORD" | "$1" login "${@:2}" \
		--username "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY" >/dev/null ||
		die "$1 login to CI_REGISTRY=$CI_REGISTRY failed"
}

login() {
	registry_login docker
	say "logged in to $CI_REGISTRY"
}

# ------------------------------------------------------------------ build
base_image() {
	if [ "${OFFLINE_BASE:-}" != 1 ]; then
		echo "${BASE_IMAGE:-python:$PYTHON_VERSION-slim}"
		return 0
	fi
	# base-offline.sh reads PYTHON_VERSION from the job's environment;
	# python-versions says which Debian suite ships it, if any.
	local name="flask-uwsgi-base:$PYTHON_VERSION"
	scripts/base-offline.sh "$name" >&2 || exit 1
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

# A scheduled pipeline exists to pick up what changed under the pinned
# packages: the base image's tag and Debian's security updates. So it builds
# without the layer cache, looking the base image up again; other pipelines
# reuse the cache.
scheduled() { [ "${CI_PIPELINE_SOURCE:-}" = schedule ]; }

# All platforms in one build; the cache is a separate registry artifact, all
# layers included (mode=max), so the builder stage is cached too. Provenance
# (SLSA, mode=max: the Dockerfile, the build arguments, the base image's
# digest, every build step) is pushed with the image as an attestation
# manifest of its index; the build arguments here hold no secret.
build_buildx() {
	local tag="$1" cache="$2" from=()
	shift 2
	setup_buildx
	if scheduled; then
		from=(--no-cache --pull)
	else
		from=(--cache-from "type=registry,ref=$cache")
	fi
	docker buildx build --progress=plain --platform "$BUILD_PLATFORMS" --provenance=mode=max \
		"${from[@]}" \
		--cache-to "type=registry,ref=$cache,mode=max,image-manifest=true,oci-mediatypes=true" \
		--tag "$tag" --push "$@" .
}

# The engine's platform only; the cache travels inside the cache image. No
# provenance: the engine's image store (Docker 20.10's, make ci-local's) keeps
# no attestations, and its client has no --provenance.
build_engine() {
	local tag="$1" cache="$2" from=(--no-cache)
	shift 2
	scheduled || from=(--cache-from "$cache")
	DOCKER_BUILDKIT=1 "$(buildkit_client)" build --progress=plain \
		--build-arg BUILDKIT_INLINE_CACHE=1 "${from[@]}" \
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

# ------------------------------------------------------------------ digests
# usage: manifest_of IMAGE AUTHFILE FILE   writes the manifest IMAGE's tag
# points at, as stored (the index, for a multi-platform image), to FILE and
# prints its digest.
manifest_of() {
	{ skopeo inspect --raw --retry-times 3 --authfile "$2" --tls-verify="$tls" "docker://$1" >"$3" &&
		skopeo manifest-digest "$3"; } || die "cannot read the manifest of $1"
}

# usage: digest_of IMAGE AUTHFILE   the digest IMAGE's tag points at
digest_of() {
	local raw status=0
	raw="$(mktemp)"
	(manifest_of "$1" "$2" "$raw") || status=$?
	rm -f "$raw"
	return "$status"
}

# usage: platform_manifests MANIFEST   one "PLATFORM DIGEST" line for each
# platform of BUILD_PLATFORMS: the digest of its manifest in the index
# MANIFEST, - when the index has none. Nothing when MANIFEST is a single
# image's. The index's other entries are not images: BuildKit's attestation
# manifests (the provenance), whose platform is unknown/unknown.
platform_manifests() {
	python3 - "$1" "${BUILD_PLATFORMS:-}" <<-'PYTHON'
		import json, sys
		index = json.load(open(sys.argv[1]))
		if "manifests" in index:
		    found = {}
		    for entry in index["manifests"]:
		        p = entry.get("platform", {})
		        name = "/".join(filter(None, (p.get("os"), p.get("architecture"), p.get("variant"))))
		        found.setdefault(name, entry["digest"])
		    for name in filter(None, sys.argv[2].split(",")):
		        print(name, found.get(name, "-"))
	PYTHON
}

# ------------------------------------------------------------------ sbom
# The SBOMs' folders: those of the first platform of BUILD_PLATFORMS (or of
# the only one) are in SBOM_DIR itself, sbom/py<X.Y>/prod.cdx.json, where
# GitLab's cyclonedx report (sbom/*/*.cdx.json) reads them; each other
# platform's are in a folder of SBOM_DIR named after it, / as -:
# sbom/py<X.Y>/linux-arm64/prod.cdx.json.
# usage: sbom_dir [PLATFORM]
sbom_dir() {
	local dir="${SBOM_DIR:-sbom/py$PYTHON_VERSION}" platforms="${BUILD_PLATFORMS:-}"
	[ -z "${1:-}" ] || [ "$1" = "${platforms%%,*}" ] || dir+="/${1//\//-}"
	echo "$dir"
}

# Straight from the registry: exactly the pushed manifests, no Docker engine
# in the job. Each platform's image is a build of its own (arm64's Debian
# packages and wheels are arm64 builds), so it has an SBOM of its own.
sbom() {
	need PYTHON_VERSION PROD_IMAGE DEV_IMAGE
	local platforms platform t0=$EPOCHREALTIME
	IFS=, read -r -a platforms <<<"${BUILD_PLATFORMS:-}"
	# No BUILD_PLATFORMS: one pass, with no --platform, of the image's only one.
	for platform in "${platforms[@]:-}"; do
		SBOM_SOURCE=registry SBOM_PLATFORM="$platform" SBOM_DIR="$(sbom_dir "$platform")" scripts/sbom.sh prod dev
	done
	say "SBOMs took $(since "$t0") s"
}

# ------------------------------------------------------------------ sign
# cosign signs a digest and stores the signature, and the SBOM attestation,
# in the image's repository under that digest: one signature covers every tag
# that points at it. release copies with `skopeo copy --all`, which keeps the
# manifests byte for byte and so the digest (release checks it), so signing
# the per-commit images covers their own tags and every release tag copied
# from them. The release job signs before it copies: no release tag ever
# points at an unsigned digest.
#
# A tag's digest is what users verify (docs/supply-chain.md): it is signed,
# and attested with the first platform's SBOM. For a multi-platform image,
# that digest is the index's, and what a pull of one platform fetches is
# that platform's manifest: each of BUILD_PLATFORMS is signed too, and
# attested with its own SBOM. Nothing is signed unless every one of an
# image's platforms and SBOMs is there.
#
# Keyless, on GitLab: cosign trades the job's OIDC token (SIGSTORE_ID_TOKEN,
# from id_tokens with aud sigstore) for a short-lived certificate that names
# this project, its .gitlab-ci.yml and the ref, and records the signature in
# Sigstore's public transparency log.
# With COSIGN_KEY (make ci-local, which is offline): signed with that key,
# nothing uploaded; verified with its public key and --insecure-ignore-tlog=true.
sign() {
	need PYTHON_VERSION PROD_IMAGE DEV_IMAGE
	local t0=$EPOCHREALTIME cosign dir variant image digest platform i refs sboms names args=(--yes)
	if [ -n "${COSIGN_KEY:-}" ]; then
		args+=(--key "$COSIGN_KEY" --tlog-upload=false)
	else
		[ -n "${SIGSTORE_ID_TOKEN:-}" ] ||
			die "neither COSIGN_KEY nor SIGSTORE_ID_TOKEN is set: keyless signing needs the job's id_tokens (SIGSTORE_ID_TOKEN, aud: sigstore)"
	fi
	[ "$tls" = true ] || args+=(--allow-http-registry --allow-insecure-registry)
	cosign="${COSIGN:-$(cosign_tool)}"
	dir="$(mktemp -d)"
	trap 'rm -rf "$dir"' RETURN
	# skopeo's auth file is also a Docker config.json, so cosign reads it too
	# (DOCKER_CONFIG=its folder). Of this job only, never ~/.docker.
	registry_login skopeo --authfile "$dir/config.json" --tls-verify="$tls"
	# Keyless fetches Sigstore's trust root (TUF): cached in the checkout.
	export DOCKER_CONFIG="$dir" TUF_ROOT="${TUF_ROOT:-$PWD/.cache/sigstore}"
	for variant in prod dev; do
		image="$PROD_IMAGE"
		[ "$variant" = prod ] || image="$DEV_IMAGE"
		digest="$(manifest_of "$image" "$dir/config.json" "$dir/manifest")"
		refs=("${image%:*}@$digest") sboms=("$(sbom_dir)/$variant.cdx.json") names=("$image")
		platform_manifests "$dir/manifest" >"$dir/platforms" || die "cannot read the platforms of $image's index"
		while read -r platform digest; do
			[ "$digest" != - ] || die "the index of $image has no $platform manifest (BUILD_PLATFORMS=$BUILD_PLATFORMS)"
			refs+=("${image%:*}@$digest") sboms+=("$(sbom_dir "$platform")/$variant.cdx.json") names+=("$image, $platform")
		done <"$dir/platforms"
		for i in "${!refs[@]}"; do
			[ -s "${sboms[i]}" ] || die "${sboms[i]} is missing: the SBOM of ${names[i]} (the sbom job's artifact)"
		done
		for i in "${!refs[@]}"; do
			"$cosign" sign "${args[@]}" "${refs[i]}" 2>"$dir/log" ||
				die "cosign sign ${refs[i]} failed: $(tail -n 1 "$dir/log")"
			"$cosign" attest "${args[@]}" --type cyclonedx --predicate "${sboms[i]}" "${refs[i]}" 2>"$dir/log" ||
				die "cosign attest ${refs[i]} failed: $(tail -n 1 "$dir/log")"
			say "signed ${refs[i]} (${names[i]}) and attested its SBOM (${sboms[i]})"
		done
	done
	say "signing took $(since "$t0") s"
}

# ------------------------------------------------------------------ release
# "source destination-tag" lines: what this pipeline publishes. A scheduled
# pipeline of the default branch publishes what a push does.
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
	need CI_REGISTRY_IMAGE PYTHON_VERSION DEFAULT_PYTHON
	local dir authfile source tag want got
	dir="$(mktemp -d)"
	authfile="$dir/auth.json"
	trap 'rm -rf "$dir"' RETURN
	registry_login skopeo --authfile "$authfile" --tls-verify="$tls"
	release_tags >"$dir/tags"
	while read -r source tag; do
		# --all: the manifest list and every architecture's image, not just ours.
		skopeo copy --quiet --all --retry-times 3 --authfile "$authfile" \
			--src-tls-verify="$tls" --dest-tls-verify="$tls" \
			"docker://$source" "docker://$CI_REGISTRY_IMAGE:$tag" ||
			die "copying $source to $CI_REGISTRY_IMAGE:$tag failed"
		# The signature is the source digest's: it covers the copy only if the copy has that digest.
		want="$(digest_of "$source" "$authfile")"
		got="$(digest_of "$CI_REGISTRY_IMAGE:$tag" "$authfile")"
		[ "$got" = "$want" ] ||
			die "$CI_REGISTRY_IMAGE:$tag has digest $got, not $source's $want: the signature of $want does not cover it"
		say "released $CI_REGISTRY_IMAGE:$tag ($source, $want)"
	done <"$dir/tags"
}

# ------------------------------------------------------------------ scan findings
# The container scanning reports of every published image (the scan jobs
# keep theirs as gl-container-scanning-report-py<X.Y>-<variant>.json): one
# line per High or Critical finding, and a failure when there is one or a
# report is missing, so that the release pipeline shows it.
scan_findings() {
	local reports=() py variant
	for py in $(scripts/versions.sh all); do
		for variant in prod dev; do
			reports+=("gl-container-scanning-report-py$py-$variant.json")
		done
	done
	python3 - "${reports[@]}" <<-'PYTHON' || die "the published images have High or Critical findings, or a scan report is missing (above)"
		import json, sys
		bad = 0
		for path in sys.argv[1:]:
		    image = path.removeprefix("gl-container-scanning-report-").removesuffix(".json")
		    try:
		        vulnerabilities = json.load(open(path)).get("vulnerabilities", [])
		    except (OSError, ValueError) as error:
		        print(f"{image}: no readable scan report ({path}: {error})")
		        bad += 1
		        continue
		    found = [v for v in vulnerabilities if v.get("severity") in ("Critical", "High")]
		    found.sort(key=lambda v: (v["severity"] != "Critical", v.get("name", "")))
		    for v in found:
		        dependency = v.get("location", {}).get("dependency", {})
		        package = f"{dependency.get('package', {}).get('name', '?')} {dependency.get('version', '?')}"
		        ids = ", ".join(i.get("name", "?") for i in v.get("identifiers", [])[:2]) or v.get("name", "?")
		        fix = v.get("solution") or "no fix yet"
		        print(f"{image}: {v['severity']} {ids} in {package} ({fix})")
		    print(f"{image}: {len(found)} High or Critical of {len(vulnerabilities)} findings", file=sys.stderr)
		    bad += len(found)
		sys.exit(1 if bad else 0)
	PYTHON
	say "no High or Critical finding in ${#reports[@]} scan reports"
}

case "${1:-}" in
	tools) tools "${@:2}" ;;
	hadolint) hadolint_report ;;
	shellcheck) shellcheck_files ;;
	ruff) ruff_report ;;
	login) login ;;
	build) build "${2:-}" ;;
	sbom) sbom ;;
	sign) sign ;;
	release) release ;;
	scan-findings) scan_findings ;;
	*) die "usage: $0 tools|hadolint|shellcheck|ruff|login|build prod|dev|sbom|sign|release|scan-findings" ;;
esac
