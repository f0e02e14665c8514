# flask-uwsgi: build, run and test the images. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# --- settings (override on the command line: make images PYTHON_VERSION=3.13) ---
IMAGE           ?= flask-uwsgi
# python-versions lists the versions and marks the default.
DEFAULT_PYTHON  := $(shell scripts/versions.sh default)
PYTHON_VERSION  ?= $(DEFAULT_PYTHON)
BASE_IMAGE      ?= python:$(PYTHON_VERSION)-slim
# The default version is :latest and :dev, as in the registry; others :X.Y and
# :X.Y-dev. With PLATFORM set, the tags end in -ARCH (a tag on an engine holds
# one architecture; the registry's tags hold both).
PLATFORM        ?=
ARCH_SUFFIX      = $(if $(PLATFORM),-$(notdir $(PLATFORM)))
ifeq ($(PYTHON_VERSION),$(DEFAULT_PYTHON))
PROD_TAG         = latest$(ARCH_SUFFIX)
DEV_TAG          = dev$(ARCH_SUFFIX)
else
PROD_TAG         = $(PYTHON_VERSION)$(ARCH_SUFFIX)
DEV_TAG          = $(PYTHON_VERSION)-dev$(ARCH_SUFFIX)
endif
PROD_IMAGE      ?= $(IMAGE):$(PROD_TAG)
DEV_IMAGE       ?= $(IMAGE):$(DEV_TAG)
# classic or buildkit; both build the same Dockerfiles.
BUILDER         ?= classic
# BUILD=0: test PROD_IMAGE and DEV_IMAGE as they are (built elsewhere, e.g. by CI).
BUILD           ?= 1
# OCI labels of the images.
VERSION         ?= dev
REVISION        ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DEMO_HTTP_PORT  ?= 8080
DEMO_DEBUG_PORT ?= 5678
VENV            ?= .venv
PYTEST_ARGS     ?=

BIN := $(VENV)/bin
# The pinned Compose v2 (requirements/test.txt), run by its path.
COMPOSE ?= $(abspath $(BIN))/docker-compose

export IMAGE PYTHON_VERSION BASE_IMAGE PROD_IMAGE DEV_IMAGE PLATFORM BUILDER BUILD \
       VERSION REVISION DEMO_HTTP_PORT DEMO_DEBUG_PORT COMPOSE
DOCKERFILES := Dockerfile Dockerfile.dev scripts/Dockerfile.uwsgi-cross bench/Dockerfile.peers examples/*/Dockerfile
SHELL_FILES := entrypoint/*.sh scripts/*.sh .ci/run examples/*/prestart.sh
PYTHON_FILES := uwsgi supervisor tests bench devkit scripts examples

.PHONY: help demo demo-stop images base-offline engine lint test test-unit test-images venv ci-tools clean sbom

help: ## list the targets
	@awk -F':.*## ' '/^[a-z0-9-]+:.*## / { printf "  make %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

demo: images venv ## build the images and start examples/hello's dev stack (debugger, reload) on 127.0.0.1
	@scripts/demo.sh start

demo-stop: ## stop the demo stack
	@scripts/demo.sh stop

images: engine ## build $(PROD_IMAGE) and $(DEV_IMAGE) (PLATFORM=linux/arm64: for arm64, under QEMU)
	@scripts/build-images.sh

base-offline: engine ## build the Debian base of PYTHON_VERSION used when BASE_IMAGE cannot be pulled
	@scripts/base-offline.sh

engine: ## make sure a Docker engine answers (installs and starts one as root on Debian)
	@scripts/engine.sh start

venv: $(VENV)/.installed ## the pinned test and lint tools, in $(VENV)

# Of the images as they are on this engine (make images builds them); the
# pipeline's sbom job runs the same script on the pushed images.
SBOM_DIR ?= sbom/py$(PYTHON_VERSION)$(ARCH_SUFFIX)
sbom: venv engine ## CycloneDX and SPDX SBOMs of $(PROD_IMAGE) and $(DEV_IMAGE), in $(SBOM_DIR)
	@SBOM_DIR="$(SBOM_DIR)" scripts/sbom.sh

# Nothing outside the clone: pip's cache is in .cache/, and Compose is called
# by its path (COMPOSE), never installed into ~/.docker.
$(VENV)/.installed: requirements/test.txt
	python3 -m venv $(VENV)
	PIP_CACHE_DIR=$(CURDIR)/.cache/pip $(BIN)/pip install -q --require-hashes -r requirements/test.txt
	touch $@

lint: venv ## hadolint, shellcheck, ruff
	$(BIN)/hadolint $(DOCKERFILES)
	$(BIN)/shellcheck -x $(SHELL_FILES)
	$(BIN)/ruff check $(PYTHON_FILES)
	$(BIN)/ruff format --check $(PYTHON_FILES)

# The Node tools package-lock.json pins, and Debian's docker-registry: the
# image tests run examples/notes' pipeline through the CI/CD component with
# gitlab-ci-local, and the examples' dev containers with the Dev Containers CLI.
ci-tools: ## gitlab-ci-local, the Dev Containers CLI, docker-registry and skopeo (installed if missing; npm's cache in .cache/)
	@scripts/ci-local.sh tools

test: lint engine ci-tools prometheus ## lint, unit tests, then the image tests (builds the images once)
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: venv ## the fast host-side tests only
	$(BIN)/pytest -m "not image and not tools" $(PYTEST_ARGS)

test-images: venv engine ci-tools prometheus ## the image tests only
	$(BIN)/pytest -m image $(PYTEST_ARGS)

# The arm64 images under QEMU (tests/emulated): built for PLATFORM, then served,
# debugged, reloaded and stopped. scripts/emulation.sh registers QEMU when
# this machine cannot run arm64 binaries yet; `make emulation-stop` undoes that.
# Its own image names, whatever PROD_IMAGE and DEV_IMAGE the environment has
# (the command line's still win). The build comes first, outside pytest: cold,
# it outlasts a test's timeout (BUILD=0: test the images as they are).
test-arm64: PLATFORM = linux/arm64
test-arm64: PROD_IMAGE = $(IMAGE):$(PROD_TAG)
test-arm64: DEV_IMAGE = $(IMAGE):$(DEV_TAG)
test-arm64: venv engine $(if $(filter 0,$(BUILD)),,images) ## build the arm64 images and test them under emulation (tests/emulated)
	@scripts/emulation.sh start arm64
	BUILD=0 $(BIN)/pytest tests/emulated $(PYTEST_ARGS)

emulation-stop: ## unregister the QEMU handlers that make images PLATFORM=... registered
	@scripts/emulation.sh stop

# Every other version with an offline base (python-versions): its images built
# and its image and debugger tests run, one version after the other.
OTHER_PYTHONS ?= $(filter-out $(DEFAULT_PYTHON),$(shell scripts/versions.sh offline))
test-versions: venv engine ## tests/images on every other Python with an offline base (3.11, 3.13, 3.15)
	@set -e; for version in $(OTHER_PYTHONS); do \
		echo "flask-uwsgi: image and debugger tests on Python $$version"; \
		env -u PROD_IMAGE -u DEV_IMAGE -u BASE_IMAGE $(MAKE) -s --no-print-directory test-python-version PYTHON_VERSION=$$version; \
	done

.PHONY: test-versions test-python-version test-arm64 emulation-stop
test-python-version:
	$(BIN)/pytest tests/images $(PYTEST_ARGS)

clean: demo-stop ## remove the images, the venv, caches and SBOMs
	-docker image rm -f $(DEV_IMAGE) $(PROD_IMAGE) 2>/dev/null
	rm -rf $(VENV) .pytest_cache .ruff_cache sbom

# --- GitLab pipeline, locally ---
# make ci-local runs .gitlab-ci.yml's lint, build, test and release jobs on this
# machine with gitlab-ci-local (pinned in package-lock.json) against a registry
# on 127.0.0.1; scripts/ci-local.sh says what it covers and what only GitLab does.
.PHONY: ci-local ci-local-clean
# CI_LOCAL_PYTHONS and CI_LOCAL_REGISTRY_PORT: scripts/ci-local.sh has their defaults.
export CI_LOCAL_PYTHONS CI_LOCAL_REGISTRY_PORT

ci-local: venv engine ## run the GitLab pipeline here (gitlab-ci-local, registry on 127.0.0.1)
	@scripts/ci-local.sh run

ci-local-clean: ## remove the local registry's data and gitlab-ci-local's state
	@scripts/ci-local.sh clean

# The pipeline's lint jobs check the files `make lint` checks.
ci-print-%:
	@echo $($*)

# --- benchmarks and reliability ---
# Both drive load with Debian's wrk, and the reliability suite puts Debian's
# HAProxy in front for a rolling replacement; scripts/lib.sh installs them when missing.
.PHONY: bench test-reliability wrk haproxy prometheus

wrk:
	@command -v wrk >/dev/null || { . scripts/lib.sh && apt_install "wrk is missing" wrk; }

haproxy:
	@command -v haproxy >/dev/null || { . scripts/lib.sh && apt_install "haproxy is missing" haproxy; }

# Debian's Prometheus server and promtool, for tests/images/test_metrics.py.
prometheus:
	@command -v promtool >/dev/null || { . scripts/lib.sh && apt_install "prometheus is missing" prometheus; }

bench: venv engine wrk ## sizes, start/stop, throughput vs bare uWSGI and gunicorn; writes bench/results and docs/performance.md
	$(BIN)/python bench/bench.py

test-reliability: venv engine wrk haproxy ## load, stops, drain, rollout, hostile clients, recovery, bad config, hardening
	$(BIN)/pytest tests/reliability $(PYTEST_ARGS)
