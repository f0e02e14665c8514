#!/usr/bin/env bash
# Run .gitlab-ci.yml on this machine (make ci-local) with gitlab-ci-local,
# against a Docker registry on 127.0.0.1 (Debian's docker-registry).
#
#   scripts/ci-local.sh run     the pipeline of a push to the default branch,
#                               then the release job of a version tag
#   scripts/ci-local.sh clean   remove the registry's data and gitlab-ci-local's state
#   scripts/ci-local.sh tools   install what it needs (also for make test's run
#                               of examples/notes' pipeline: tests/examples/test_component.py,
#                               and of the examples' dev containers: test_devcontainer.py)
#
# What runs here, and how:
#   - every job as written (same scripts/ci.sh steps), in gitlab-ci-local's
#     shell executor, in this checkout, on this machine's Docker engine: job
#     images (python:*, docker:*-dind) cannot be pulled here;
#   - lint: hadolint, shellcheck, ruff, with their code quality reports;
#   - build: for CI_LOCAL_PYTHONS only (by default the default Python and
#     3.11), on Debian's own Python (OFFLINE_BASE=1), for this machine's
#     platform only (BUILD_PLATFORMS empty: no buildx, no QEMU here), with the
#     registry's inline layer cache; pushed to the local registry;
#   - test: make test BUILD=0 against images pulled from it, with the JUnit
#     and Cobertura reports, on the prod and dev image tests only
#     (CI_LOCAL_TEST_PATHS): what the job adds is the pull and the reports,
#     and make test and make test-versions run the whole suite on these
#     Pythons' images; on GitLab the job runs the whole suite;
#   - sbom: the SBOMs of the pushed images, read from the local registry;
#   - release: signing first, the same step as on GitLab (scripts/ci.sh sign)
#     but with a key pair made for this run (COSIGN_KEY, in
#     .gitlab-ci-local/cosign/) instead of GitLab's keyless identity, then
#     real copies between tags of the local registry (skopeo --all), with
#     DEFAULT_PYTHON set to the first local Python so latest and dev are
#     written too, once as the default branch and once as tag 1.2.3;
#   - then every promised tag is pulled, and verified with docs/supply-chain.md's
#     key-based cosign commands as written there (signature, and the SBOM
#     attestation); the same commands must fail on an image pushed unsigned;
#   - merge request and scheduled pipelines are planned (not run): the first
#     must publish nothing, the second must rebuild, sign and publish.
# Only GitLab runs: the dind service and buildx with QEMU (linux/arm64, one
# index per image, each platform signed and attested: make test-arm64 builds
# and tests arm64 here, one platform per tag, with no index), the buildx
# registry cache and provenance, Python 3.12 (no Debian suite ships
# it, and python:*-slim cannot be pulled here), container scanning and the
# vulnerabilities job that reads it, keyless signing (Sigstore), and how
# GitLab shows the reports.
#
# Nothing is written under $HOME: the jobs' Docker logins go to
# .gitlab-ci-local/docker-config (DOCKER_CONFIG), npm's cache to .cache/npm.
#
# CI_LOCAL_PYTHONS         Python versions to build and test, the first one
#                          standing in for the default (latest, dev); by
#                          default the default Python, then the oldest (3.11)
# CI_LOCAL_REGISTRY_PORT   the registry's port on 127.0.0.1 (default 5055)
# CI_LOCAL_TEST_PATHS      the test job's tests (default: the prod and dev
#                          image tests; empty: the whole suite)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

pythons="${CI_LOCAL_PYTHONS:-$(scripts/versions.sh default) 3.11}"
# The first one stands in for the default (DEFAULT_PYTHON: latest, dev, 1.2.3).
default_python="${pythons%% *}"
port="${CI_LOCAL_REGISTRY_PORT:-5055}"
test_paths="${CI_LOCAL_TEST_PATHS-tests/images/test_prod.py tests/images/test_dev.py}"
registry="127.0.0.1:$port"
image="$registry/flask-uwsgi"
state=.gitlab-ci-local
pipeline="$state/ci-local.gitlab-ci.yml"
# Per port: runs on other ports keep their own data and pid file.
registry_dir="${CI_LOCAL_REGISTRY_DIR:-/var/tmp/flask-uwsgi-ci-local-registry-$port}"
registry_pid="$registry_dir/registry.pid"
release_version=1.2.3
gcl=node_modules/.bin/gitlab-ci-local
keys="$state/cosign"
run_log="$state/run.log"
unsigned="$registry/flask-uwsgi-unsigned:test"
# Docker logins of the jobs and of this script: in the checkout, not ~/.docker.
export DOCKER_CONFIG="$PWD/$state/docker-config"

# ------------------------------------------------------------------ tools
tools() {
	local missing=()
	command -v rsync >/dev/null || missing+=(rsync) # gitlab-ci-local copies the checkout with it
	command -v skopeo >/dev/null || missing+=(skopeo)
	[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
	command -v npm >/dev/null || missing+=(nodejs npm)
	command -v jq >/dev/null || missing+=(jq) # docs/supply-chain.md's verify commands read the attestation with it
	[ "${#missing[@]}" = 0 ] || apt_install "make ci-local needs ${missing[*]}" "${missing[@]}"
	# The versions package-lock.json pins (gitlab-ci-local, the Dev Containers
	# CLI); again only when the lock changed. npm's cache in the clone's
	# .cache/, as pip's: nothing written outside it.
	if [ ! -x "$gcl" ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		say "installing the Node tools (package-lock.json)"
		npm_config_cache="$PWD/.cache/npm" npm ci --no-audit --no-fund --loglevel=error >/dev/null ||
			die "npm ci failed: gitlab-ci-local is not installed"
	fi
	# The pinned cosign the release job signs with (scripts/lib.sh).
	cosign="$(cosign_tool)"
}

# ------------------------------------------------------------------ registry
registry_up() { curl -fsS -o /dev/null "http://$registry/v2/" 2>/dev/null; }

start_registry() {
	registry_up && die "something already answers on $registry: set CI_LOCAL_REGISTRY_PORT"
	mkdir -p "$registry_dir/data"
	cat >"$registry_dir/config.yml" <<-CONFIG
		version: 0.1
		log:
		  level: warn
		storage:
		  filesystem:
		    rootdirectory: $registry_dir/data
		http:
		  addr: $registry
	CONFIG
	nohup /usr/bin/docker-registry serve "$registry_dir/config.yml" >"$registry_dir/registry.log" 2>&1 &
	echo $! >"$registry_pid"
	wait_until 20 registry_up || {
		tail -n 5 "$registry_dir/registry.log" >&2
		die "docker-registry did not answer on $registry within 20 s (log: $registry_dir/registry.log)"
	}
	say "registry on $registry (data: $registry_dir/data)"
}

stop_registry() {
	[ -f "$registry_pid" ] || return 0
	kill "$(cat "$registry_pid")" 2>/dev/null || true
	rm -f "$registry_pid"
}

# ------------------------------------------------------------------ pipeline
derive_pipeline() {
	mkdir -p "$state"
	.venv/bin/python -m tests.ci.local_pipeline "$pythons" <.gitlab-ci.yml >"$pipeline"
}

# usage: gitlab_ci_local ARG...   gitlab-ci-local on the derived pipeline,
# with the settings that stand in for GitLab's runner and registry.
# One job at a time: the jobs share this machine's one engine, and the test
# jobs of two Python versions would fight over the same container and image
# names (GitLab gives each job its own runner).
gitlab_ci_local() {
	# Overriding these is the point here; gitlab-ci-local warns about each.
	GCL_IGNORE_PREDEFINED_VARS=CI_REGISTRY,CI_REGISTRY_IMAGE,CI_DEFAULT_BRANCH,CI_COMMIT_BRANCH,CI_PIPELINE_SOURCE,CI_COMMIT_TAG \
		"$gcl" --file "$pipeline" --force-shell-executor --concurrency 1 --no-color --timestamps --max-job-name-padding 0 \
		--variable "CI_REGISTRY=$registry" \
		--variable "CI_REGISTRY_IMAGE=$image" \
		--variable "CI_REGISTRY_USER=ci-local" \
		--variable "CI_REGISTRY_PASSWORD=ci-local" \
		--variable "CI_DEFAULT_BRANCH=main" \
		--variable "DEFAULT_PYTHON=$default_python" \
		--variable "TEST_PATHS=$test_paths" \
		--variable "REGISTRY_TLS_VERIFY=false" \
		--variable "BUILD_PLATFORMS=" \
		--variable "OFFLINE_BASE=1" \
		--variable "DOCKER_HOST=unix:///var/run/docker.sock" \
		--variable "DOCKER_TLS_VERIFY=" \
		--variable "DOCKER_CERT_PATH=" \
		--variable "DOCKER_CONFIG=$DOCKER_CONFIG" \
		--variable "COSIGN_KEY=$PWD/$keys/cosign.key" \
		--variable "COSIGN_PASSWORD=$cosign_password" \
		"$@"
}

# usage: planned_jobs ARG...   the jobs gitlab-ci-local plans with these
# settings, one name a line (matrix suffixes dropped)
planned_jobs() {
	gitlab_ci_local --list-csv "$@" 2>/dev/null |
		awk -F';' 'seen { print $1 } /^"?name"?;/ { seen = 1 }' | sed 's/"//g; s/: \[.*//' | sort -u
}

# A merge request pipeline builds and tests, and signs and publishes nothing.
check_merge_request_plan() {
	local jobs
	jobs="$(planned_jobs --variable CI_PIPELINE_SOURCE=merge_request_event \
		--variable CI_MERGE_REQUEST_IID=1 --unset-variable CI_COMMIT_BRANCH)"
	[ -n "$jobs" ] || die "gitlab-ci-local planned no job for a merge request pipeline"
	! grep -qx release <<<"$jobs" || die "a merge request pipeline would sign and publish: $(xargs <<<"$jobs")"
	say "merge request pipeline: $(xargs <<<"$jobs") (no release)"
}

# The default branch's scheduled pipeline rebuilds, tests, and signs and publishes.
check_schedule_plan() {
	local jobs job
	jobs="$(planned_jobs --variable CI_PIPELINE_SOURCE=schedule --variable CI_COMMIT_BRANCH=main)"
	for job in build:prod build:dev test sbom release; do
		grep -qx "$job" <<<"$jobs" || die "a scheduled pipeline of main would not run $job (it plans: $(xargs <<<"$jobs"))"
	done
	say "scheduled pipeline of main: $(xargs <<<"$jobs")"
}

# Both runs' output (the jobs' lines are on gitlab-ci-local's stderr) also
# goes to run.log, where report_timing reads the jobs' timings.
run_default_branch() {
	say "pipeline of a push to main: lint, build, test, sbom, release (Python $pythons)"
	gitlab_ci_local --variable CI_COMMIT_BRANCH=main --variable CI_PIPELINE_SOURCE=push 2>&1 | tee "$run_log"
}

run_tag_release() {
	local py jobs=()
	for py in $pythons; do jobs+=("release: [$py]"); done
	say "release jobs of tag v$release_version"
	gitlab_ci_local --variable "CI_COMMIT_TAG=v$release_version" --unset-variable CI_COMMIT_BRANCH \
		--variable CI_PIPELINE_SOURCE=push "${jobs[@]}" 2>&1 | tee -a "$run_log"
}

# ------------------------------------------------------------------ checks
# Every tag the pipeline promises is in the registry and can be pulled.
check_registry() {
	local sha tags py tag want=()
	sha="$(git rev-parse --short=8 HEAD)"
	tags="$(curl -fsS "http://$registry/v2/flask-uwsgi/tags/list")"
	for py in $pythons; do
		want+=("$sha-py$py" "$sha-py$py-dev" "$py" "$py-dev"
			"$release_version-py$py" "$release_version-py$py-dev")
	done
	want+=(latest dev "$release_version" "$release_version-dev")
	for tag in "${want[@]}"; do
		grep -q "\"$tag\"" <<<"$tags" || die "$image:$tag is missing from the registry (it has: $tags)"
	done
	docker pull -q "$image:latest" >/dev/null || die "docker pull $image:latest failed"
	docker pull -q "$image:$release_version-dev" >/dev/null || die "docker pull $image:$release_version-dev failed"
	docker image rm "$image:latest" "$image:$release_version-dev" >/dev/null
	say "registry has and serves: ${want[*]}"
	promised=("${want[@]}")
}

# ------------------------------------------------------------------ signing
# A key pair for this run only: the release job signs with it (COSIGN_KEY),
# the checks below verify with its public half.
make_keys() {
	local t0=$EPOCHREALTIME
	rm -rf "$keys"
	mkdir -p "$keys"
	cosign_password="$(head -c 24 /dev/urandom | base64)"
	COSIGN_PASSWORD="$cosign_password" "$cosign" generate-key-pair --output-key-prefix "$keys/cosign" >/dev/null 2>&1 ||
		die "cosign generate-key-pair failed in $keys"
	timing[key pair]="$(since "$t0")"
}

# docs/supply-chain.md's key-based verify commands, exactly as written there (one a line).
readme_verify_commands() {
	local commands
	commands="$(sed -n '/<!-- ci-local verify: start -->/,/<!-- ci-local verify: end -->/p' docs/supply-chain.md | grep '^cosign ')"
	[ -n "$commands" ] || die "docs/supply-chain.md has no cosign commands between <!-- ci-local verify: start --> and <!-- ci-local verify: end -->"
	echo "$commands"
}

# usage: readme_command IMAGE COMMAND   one of docs/supply-chain.md's lines, as a reader
# runs it (the pinned cosign first on PATH), with IMAGE and this run's public
# key; its errors go to verify.err.
readme_command() {
	IMAGE="$1" COSIGN_PUB="$keys/cosign.pub" PATH="$(dirname "$cosign"):$PATH" \
		bash -o pipefail -c "$2" 2>"$state/verify.err" </dev/null
}

# usage: run_verify IMAGE   status 0 only if each of docs/supply-chain.md's commands
# passes on IMAGE, the attestation's predicate being a CycloneDX SBOM with
# components.
run_verify() {
	local command out
	while read -r command; do
		out="$(readme_command "$1" "$command")" || {
			tail -n 2 "$state/verify.err" >&2
			return 1
		}
		if [[ "$command" == *verify-attestation* ]]; then
			jq -se 'length > 0 and all(.bomFormat == "CycloneDX" and (.components | length > 0))' <<<"$out" >/dev/null ||
				{
					say "the attestation of $1 is not a CycloneDX SBOM with components"
					return 1
				}
		fi
	done < <(readme_verify_commands)
}

# Every promised tag verifies; an image pushed to the same registry without
# signing does not (neither its signature nor an attestation).
check_signatures() {
	local t0=$EPOCHREALTIME tag command base="flask-uwsgi-base:$default_python"
	for tag in "${promised[@]}"; do
		run_verify "$image:$tag" || die "docs/supply-chain.md's cosign commands fail on $image:$tag"
	done
	skopeo copy --quiet --dest-tls-verify=false "docker-daemon:$base" "docker://$unsigned" ||
		die "pushing $base to $unsigned failed"
	# Refused for the right reason: cosign found nothing signed, not some other error.
	while read -r command; do
		! readme_command "$unsigned" "$command" >/dev/null || die "passes on the unsigned $unsigned: $command"
		grep -q -e 'no signatures found' -e 'no matching attestations' "$state/verify.err" ||
			die "fails on the unsigned $unsigned, but not for want of a signature: $(tail -n 1 "$state/verify.err")"
	done < <(readme_verify_commands)
	timing[verification]="$(since "$t0")"
	say "signature and SBOM attestation verified (docs/supply-chain.md's commands) on ${#promised[@]} tags; both refused on the unsigned $unsigned"
}

# What the supply-chain steps add to the run: the jobs' own lines (sbom,
# signing) and this script's.
report_timing() {
	local step total=0 line
	for step in "SBOMs" "signing"; do
		# The sbom and release jobs say how long their step took ("... took N.N s").
		timing[$step]="$({ grep -o "$step took [0-9.]* s" "$run_log" || true; } |
			awk '{ sum += $(NF - 1) } END { printf "%.1f", sum }')"
	done
	line=""
	for step in "SBOMs" "signing" "key pair" "verification"; do
		line+="$step ${timing[$step]} s, "
		total="$(awk -v a="$total" -v b="${timing[$step]}" 'BEGIN { printf "%.1f", a + b }')"
	done
	say "supply chain: ${line}$total s in all"
}

# The reports GitLab would read, where the jobs left them.
check_reports() {
	.venv/bin/python - <<-'PYTHON' || die "a job report is missing or unreadable"
		import json, xml.etree.ElementTree as ET
		junit = ET.parse("report.xml").getroot()
		suite = junit if junit.tag == "testsuite" else junit.find("testsuite")
		cobertura = ET.parse("coverage.xml").getroot()
		issues = [len(json.load(open(f"gl-code-quality-{t}.json"))) for t in ("hadolint", "ruff")]
		print(f"flask-uwsgi: reports: junit {suite.get('tests')} tests, {suite.get('failures')} failures;"
		      f" cobertura line-rate {float(cobertura.get('line-rate')):.1%};"
		      f" code quality {sum(issues)} findings")
	PYTHON
}

# The test job leaves the images it pulled on this engine (on GitLab the job's
# engine goes away with the job).
remove_images() {
	local tags
	# By tag, not id: untagging a prod image its dev image builds on still works.
	mapfile -t tags < <(docker image ls --format '{{.Repository}}:{{.Tag}}' --filter "reference=$image:*")
	[ "${#tags[@]}" = 0 ] || docker image rm "${tags[@]}" >/dev/null 2>&1 || true
}

finish() {
	local status=$?
	# gitlab-ci-local shows only a failed job's last lines: name the failed
	# tests too (pytest's short summary, in each job's log).
	if ((status != 0)); then
		grep -E '^(FAILED|ERROR) ' "$state"/output/*.log 2>/dev/null | sed "s|^$state/output/||" >&2 || true
	fi
	stop_registry
	remove_images
	# The jobs' registry logins, and the run's private key.
	rm -rf "$DOCKER_CONFIG" "$keys/cosign.key"
	say "ci-local: $( ((status == 0)) && echo passed || echo FAILED) in $((SECONDS - started)) s"
}

declare -A timing
cosign_password=""
promised=()

run() {
	started=$SECONDS
	tools
	start_registry
	trap finish EXIT
	make_keys
	derive_pipeline
	check_merge_request_plan
	check_schedule_plan
	run_default_branch
	run_tag_release
	check_registry
	check_signatures
	check_reports
	report_timing
}

clean() {
	stop_registry
	rm -rf "$registry_dir" "$state"
	say "removed $registry_dir and $state"
}

case "${1:-}" in
	run | clean | tools) "$1" ;;
	verify-commands) readme_verify_commands ;;
	*) die "usage: $0 run|clean|tools|verify-commands" ;;
esac
