# flask-uwsgi, prod variant: a non-root uWSGI server for a WSGI app in /app.
# Builds on the official python:<version>-slim image or on any Debian-based image
# whose python3 is PYTHON_VERSION, with venv (see scripts/base-offline.sh). Works
# with BuildKit and with the classic builder, so no BuildKit-only syntax below.

# The default is python-versions' default (a test keeps them equal).
ARG PYTHON_VERSION=3.14
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim
# An image whose /wheels/ holds uWSGI's wheel, at the version prod.txt pins,
# compiled elsewhere for this platform from the sdist prod.txt pins by hash:
# the builder installs it before the pinned requirements, which then keep it.
# scripts/build-images.sh names the one it cross-compiles
# (scripts/Dockerfile.uwsgi-cross) when it builds for another architecture;
# by default there is none, and uWSGI is compiled here.
ARG UWSGI_WHEELS=no-wheels

FROM ${BASE_IMAGE} AS no-wheels
RUN mkdir /wheels
FROM ${UWSGI_WHEELS} AS wheels

# ---------------------------------------------------------------------------
# builder: the only stage with a compiler. uWSGI is published as an sdist, so
# it is compiled here into /opt/venv, which the final stage copies as is.
# ---------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS builder
ARG PYTHON_VERSION

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# An image is named after its Python: a base with another one is an error,
# never a silent substitute.
RUN set -eu; \
    python="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"; \
    if [ "$python" != "$PYTHON_VERSION" ]; then \
        echo "flask-uwsgi: error: the base image's python3 is $python, not PYTHON_VERSION=$PYTHON_VERSION" >&2; \
        exit 1; \
    fi
# pip trusts the system CA store, as Python's ssl module already does (old pips
# use their own bundle; a private CA or TLS-inspecting proxy then breaks them).
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Package versions follow the base image's Debian suite; the base image pins them.
# hadolint ignore=DL3008
RUN set -eux; \
    apt-get update; \
    # crypt.h: uWSGI's core includes it, and newer libc6-dev no longer pulls it in.
    apt-get install -y --no-install-recommends gcc libc6-dev libcrypt-dev libpcre2-dev libssl-dev; \
    # The official images carry Python's headers in /usr/local/include; Debian's
    # own Python needs them from pythonX.Y-dev.
    include_dir="$(python3 -c 'import sysconfig; print(sysconfig.get_path("include"))')"; \
    if [ ! -e "$include_dir/Python.h" ]; then \
        apt-get install -y --no-install-recommends "python$PYTHON_VERSION-dev"; \
    fi; \
    rm -rf /var/lib/apt/lists/*

COPY requirements/prod.txt /tmp/requirements/prod.txt
COPY --from=wheels /wheels/ /tmp/wheels/
RUN set -eux; \
    python3 -m venv /opt/venv; \
    # UWSGI_WHEELS: uWSGI's wheel at the pinned version, and nothing else
    # (pip would keep any package installed here without checking its hash).
    pinned="$(sed -n 's/^uwsgi==\([^ ]*\) .*/\1/p' /tmp/requirements/prod.txt)"; \
    for wheel in /tmp/wheels/*; do \
        [ -e "$wheel" ] || continue; \
        case "${wheel##*/}" in \
            "uwsgi-$pinned-"*.whl) /opt/venv/bin/pip install --no-cache-dir --no-deps "$wheel" ;; \
            *) echo "flask-uwsgi: error: UWSGI_WHEELS has ${wheel##*/}, not uWSGI $pinned's wheel" >&2; exit 1 ;; \
        esac; \
    done; \
    rm -rf /tmp/wheels; \
    # Hash-checked: every other wheel and sdist is exactly the one requirements/prod.txt names.
    /opt/venv/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements/prod.txt; \
    # Python < 3.12 seeds every venv with setuptools (9 MB) that nothing here
    # imports; builds of sdists get their own through build isolation.
    if /opt/venv/bin/pip show -q setuptools 2>/dev/null; then \
        /opt/venv/bin/pip uninstall -y -q setuptools; \
    fi; \
    # uWSGI found PCRE2 (internal routing) and OpenSSL (https-socket) through
    # the -dev packages above; their runtime libraries are in every Debian base.
    # Debug symbols are of no use in the image.
    strip --strip-unneeded /opt/venv/bin/uwsgi; \
    /opt/venv/bin/uwsgi --version

# ---------------------------------------------------------------------------
# final: the runtime image.
# ---------------------------------------------------------------------------
FROM ${BASE_IMAGE}

ARG PYTHON_VERSION
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="flask-uwsgi" \
      org.opencontainers.image.description="Flask and any WSGI app served by uWSGI: non-root, production defaults" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      io.github.flask-uwsgi.variant="prod"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# tini is PID 1: it forwards docker's stop signal to uWSGI and reaps orphans
# that uWSGI's master does not own (children left by prestart hooks, for one).
# nginx is HTTP_MODE=nginx's front (uwsgi/http-nginx.ini). Its package would
# start a system nginx on port 80 as it installs: a policy-rc.d that answers
# 101 ("action forbidden") stops that, for this step only.
# https://people.debian.org/~hmh/invokerc.d-policyrc.d-specification.txt
# hadolint ignore=DL3008
RUN set -eux; \
    apt-get update; \
    packages=(tini nginx); \
    # uWSGI embeds libpython. The official images build Python with
    # --enable-shared and ship it; Debian's own python3 keeps the shared
    # library in a separate package, libpythonX.Y.
    soname="$(python3 -c 'import sysconfig as s; print(s.get_config_var("LIBDIR") + "/" + s.get_config_var("INSTSONAME"))')"; \
    if [ ! -e "$soname" ]; then \
        packages+=("libpython$PYTHON_VERSION"); \
    fi; \
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; \
    chmod 0755 /usr/sbin/policy-rc.d; \
    apt-get install -y --no-install-recommends "${packages[@]}"; \
    rm -f /usr/sbin/policy-rc.d /etc/nginx/sites-enabled/default; \
    rm -rf /var/lib/apt/lists/*

# A fixed numeric uid (so Kubernetes' runAsNonRoot can check it) in group 0, and
# group-writable app directories: the image then also runs under an arbitrary
# --user (Docker and OpenShift give such a user gid 0). /app is writable so an
# app can create its instance folder and SQLite file there without a chown in
# the user's Dockerfile; COPY into /app keeps the directory's owner. The
# entrypoint and the dev image read the uid from FLASK_UWSGI_UID, and the
# image's own files' places from FLASK_UWSGI_LIB and FLASK_UWSGI_ETC (the ini
# files and supervisord's configuration too).
ENV FLASK_UWSGI_UID=10001 \
    FLASK_UWSGI_LIB=/usr/local/lib/flask-uwsgi \
    FLASK_UWSGI_ETC=/etc/flask-uwsgi
RUN set -eux; \
    useradd --uid "$FLASK_UWSGI_UID" --gid 0 --home-dir /home/app --create-home --shell /usr/sbin/nologin app; \
    install -d -m 0775 -o "$FLASK_UWSGI_UID" -g 0 /app /docker-entrypoint.d; \
    chmod 0775 /home/app

COPY --from=builder /opt/venv /opt/venv
COPY uwsgi/uwsgi.ini uwsgi/http-router.ini uwsgi/http-direct.ini uwsgi/http-nginx.ini uwsgi/nginx.conf \
     uwsgi/metrics.ini uwsgi/log-json.ini ${FLASK_UWSGI_ETC}/
COPY uwsgi/flask_uwsgi_env.py uwsgi/uwsgi_app_loader.py uwsgi/uwsgi_hot_reload.py \
     uwsgi/metrics_worker.py uwsgi/metrics_exporter.py uwsgi/metrics_listen.py \
     uwsgi/log_json.py uwsgi/log_relay.py uwsgi/otel_traces.py uwsgi/request_check.py \
     ${FLASK_UWSGI_LIB}/python/
COPY entrypoint/ ${FLASK_UWSGI_LIB}/

# The app's environment comes first on PATH: python, pip and uwsgi are the venv's.
# PIP_*: as in the builder, for the user's own `pip install` steps.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    # The user the image runs as: a Dockerfile FROM it that switches to root
    # for a step switches back with `USER ${FLASK_UWSGI_USER}` (the dev image
    # sets 0: its entrypoint becomes the owner of /app).
    FLASK_UWSGI_USER=${FLASK_UWSGI_UID}

# The entrypoint and health check on PATH, then a smoke test: a missing shared
# library or a broken entrypoint fails the build, not the first container.
RUN set -eux; \
    ln -s "$FLASK_UWSGI_LIB/docker-entrypoint.sh" /usr/local/bin/docker-entrypoint.sh; \
    ln -s "$FLASK_UWSGI_LIB/healthcheck.sh" /usr/local/bin/flask-uwsgi-healthcheck; \
    chmod 0755 "$FLASK_UWSGI_LIB"/*.sh; \
    if ldd /opt/venv/bin/uwsgi | grep 'not found'; then exit 1; fi; \
    uwsgi --version; \
    python -c 'import flask; print("flask", flask.__version__)'; \
    bash -n /usr/local/bin/docker-entrypoint.sh

WORKDIR /app
# (numeric: FLASK_UWSGI_UID, above)
# hadolint ignore=DL3066
USER ${FLASK_UWSGI_UID}
EXPOSE 8080

# Any HTTP answer below 500 from the app means uWSGI and the app are serving.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["flask-uwsgi-healthcheck"]

# uWSGI 2.0 treats SIGTERM as "brutal reload" by default; uwsgi/uwsgi.ini maps it
# to a graceful shutdown (in-flight requests finish, exit code 0). SIGTERM is kept
# because Kubernetes and most orchestrators send it whatever STOPSIGNAL says.
# https://uwsgi-docs.readthedocs.io/en/latest/ThingsToKnow.html
# https://github.com/unbit/uwsgi/issues/515
STOPSIGNAL SIGTERM

ENTRYPOINT ["tini", "--", "docker-entrypoint.sh"]
CMD ["uwsgi"]
