#!/usr/bin/env bash
# Run .gitlab-ci.yml on this machine (make ci-local) with gitlab-ci-local,
# against a Docker registry on 127.0.0.1 (Debian's docker-registry).
#
#   scripts/ci-local.sh run     the pipeline of a push to the default branch,
#                               then the release job of a version tag
#   scripts/ci-local.sh clean   remove the registry's data and gitlab-ci-local's state
#   scripts/ci-local.sh tools   install what it needs (also for make test's run
#                               of examples/notes' pipeline: tests/examples/test_component.py)
#
# What runs here, and how:
#   - every job as written (same scripts/ci.sh steps), in gitlab-ci-local's
#     shell executor, in this checkout, on this machine's Docker engine: job
#     images (python:*, docker:*-dind) cannot be pulled here;
#   - lint: hadolint, shellcheck, ruff, with their code quality reports;
#   - build: for CI_LOCAL_PYTHONS only (default 3.11; "3.11 3.13" adds
#     trixie), on Debian's own Python (OFFLINE_BASE=1), for this machine's
#     platform only (BUILD_PLATFORMS empty: no buildx, no QEMU here), with the
#     registry's inline layer cache; pushed to the local registry;
#   - test: the whole suite (make test BUILD=0) against images pulled from it,
#     with the JUnit and Cobertura reports;
#   - release: real copies between tags of the local registry (skopeo --all),
#     with DEFAULT_PYTHON set to the first local Python so latest and dev are
#     written too, once as the default branch and once as tag 1.2.3;
#   - a merge request pipeline is planned (not run) and must publish nothing.
# Only GitLab runs: the dind service and buildx with QEMU (linux/arm64), the
# buildx registry cache, Python 3.10 and 3.12 (python:*-slim cannot be pulled
# here), container scanning, and how GitLab shows the reports.
#
# CI_LOCAL_PYTHONS         Python versions to build and test (3.11, 3.13)
# CI_LOCAL_REGISTRY_PORT   the registry's port on 127.0.0.1 (default 5055)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

pythons="${CI_LOCAL_PYTHONS:-3.11}"
port="${CI_LOCAL_REGISTRY_PORT:-5055}"
registry="127.0.0.1:$port"
image="$registry/flask-uwsgi"
state=.gitlab-ci-local
pipeline="$state/ci-local.gitlab-ci.yml"
registry_dir="${CI_LOCAL_REGISTRY_DIR:-/var/tmp/flask-uwsgi-ci-local-registry}"
registry_pid="$registry_dir/registry.pid"
release_version=1.2.3
gcl=node_modules/.bin/gitlab-ci-local

# ------------------------------------------------------------------ tools
tools() {
	local missing=()
	command -v rsync >/dev/null || missing+=(rsync) # gitlab-ci-local copies the checkout with it
	command -v skopeo >/dev/null || missing+=(skopeo)
	[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
	command -v npm >/dev/null || missing+=(nodejs npm)
	[ "${#missing[@]}" = 0 ] || apt_install "make ci-local needs ${missing[*]}" "${missing[@]}"
	# The versions package-lock.json pins; again only when the lock changed.
	# npm's cache in the clone's .cache/, as pip's: nothing written outside it.
	if [ ! -x "$gcl" ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		say "installing gitlab-ci-local (package-lock.json)"
		npm_config_cache="$PWD/.cache/npm" npm ci --no-audit --no-fund --loglevel=error >/dev/null ||
			die "npm ci failed: gitlab-ci-local is not installed"
	fi
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
gitlab_ci_local() {
	local default_python="${pythons%% *}"
	# Overriding these is the point here; gitlab-ci-local warns about each.
	GCL_IGNORE_PREDEFINED_VARS=CI_REGISTRY,CI_REGISTRY_IMAGE,CI_DEFAULT_BRANCH,CI_COMMIT_BRANCH,CI_PIPELINE_SOURCE,CI_COMMIT_TAG \
		"$gcl" --file "$pipeline" --force-shell-executor --no-color --timestamps --max-job-name-padding 0 \
		--variable "CI_REGISTRY=$registry" \
		--variable "CI_REGISTRY_IMAGE=$image" \
		--variable "CI_REGISTRY_USER=ci-local" \
		--variable "CI_REGISTRY_PASSWORD=ci-local" \
		--variable "CI_DEFAULT_BRANCH=main" \
		--variable "DEFAULT_PYTHON=$default_python" \
		--variable "REGISTRY_TLS_VERIFY=false" \
		--variable "BUILD_PLATFORMS=" \
		--variable "OFFLINE_BASE=1" \
		--variable "DOCKER_HOST=unix:///var/run/docker.sock" \
		--variable "DOCKER_TLS_VERIFY=" \
		--variable "DOCKER_CERT_PATH=" \
		"$@"
}

# A merge request pipeline builds and tests, and publishes nothing.
check_merge_request_plan() {
	local jobs
	jobs="$(gitlab_ci_local --list-csv --variable CI_PIPELINE_SOURCE=merge_request_event \
		--variable CI_MERGE_REQUEST_IID=1 --unset-variable CI_COMMIT_BRANCH 2>/dev/null |
		awk -F';' 'seen { print $1 } /^"?name"?;/ { seen = 1 }')"
	[ -n "$jobs" ] || die "gitlab-ci-local planned no job for a merge request pipeline"
	! grep -q '^"\?release' <<<"$jobs" || die "a merge request pipeline would publish: $(tr '\n' ' ' <<<"$jobs")"
	say "merge request pipeline: $(tr '\n' ' ' <<<"$jobs" | sed 's/"//g')(no release)"
}

run_default_branch() {
	say "pipeline of a push to main: lint, build, test, release (Python $pythons)"
	gitlab_ci_local --variable CI_COMMIT_BRANCH=main --variable CI_PIPELINE_SOURCE=push
}

run_tag_release() {
	local py jobs=()
	for py in $pythons; do jobs+=("release: [$py]"); done
	say "release jobs of tag v$release_version"
	gitlab_ci_local --variable "CI_COMMIT_TAG=v$release_version" --unset-variable CI_COMMIT_BRANCH \
		--variable CI_PIPELINE_SOURCE=push "${jobs[@]}"
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
	stop_registry
	remove_images
	docker logout "$registry" >/dev/null 2>&1 || true
	say "ci-local: $( ((status == 0)) && echo passed || echo FAILED) in $((SECONDS - started)) s"
}

run() {
	started=$SECONDS
	tools
	start_registry
	trap finish EXIT
	derive_pipeline
	check_merge_request_plan
	run_default_branch
	run_tag_release
	check_registry
	check_reports
}

clean() {
	stop_registry
	rm -rf "$registry_dir" "$state"
	say "removed $registry_dir and $state"
}

case "${1:-}" in
	run | clean | tools) "$1" ;;
	*) die "usage: $0 run|clean|tools" ;;
esac
