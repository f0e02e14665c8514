#!/usr/bin/env bash
# Build a Debian base image equivalent to python:<version>-slim from Debian's
# own packages, for machines that cannot pull from a registry.
#
#   scripts/base-offline.sh [IMAGE_NAME]      default flask-uwsgi-base:<suite>
#
# OFFLINE_SUITE   Debian suite: bookworm (Python 3.11, default) or trixie (3.13)
# DEBIAN_MIRROR   default: the mirror this machine's apt uses
# CA_BUNDLE       CA certificates the image trusts; default: this machine's,
#                 so pip and apt work behind a TLS-inspecting proxy too
# FORCE=1         rebuild even if the image exists
set -Eeuo pipefail

suite="${OFFLINE_SUITE:-bookworm}"
name="${1:-flask-uwsgi-base:$suite}"
ca_bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# The first Debian (not security) mirror in this machine's apt sources.
host_mirror() {
	local uri
	uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }')"
	if [ -z "$uri" ]; then
		uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk '$1 == "URIs:" && $2 !~ /security/ { print $2; exit }')"
	fi
	echo "${uri:-http://deb.debian.org/debian}"
}

if [ -z "${FORCE:-}" ] && docker image inspect "$name" >/dev/null 2>&1; then
	say "$name exists ($(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.description"}}' "$name")); FORCE=1 rebuilds it"
	exit 0
fi
[ "$(id -u)" = 0 ] || die "debootstrap needs root; run as root or pull BASE_IMAGE instead"
command -v debootstrap >/dev/null || apt_install "debootstrap is missing" debootstrap
[ -r "$ca_bundle" ] || die "CA_BUNDLE=$ca_bundle is not readable"
mirror="${DEBIAN_MIRROR:-$(host_mirror)}"

rootfs="$(mktemp -d /var/tmp/flask-uwsgi-base.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

say "building $name from Debian $suite ($mirror)"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
	"$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
	tail -n 20 "$rootfs.log" >&2
	die "debootstrap $suite failed (full log: $rootfs.log)"
}
rm -f "$rootfs.log"

# Security and point-release updates, as the official images carry them.
security_mirror="${mirror%/debian}/debian-security"
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
SOURCES

# Slim like Debian's own container images: no docs, man pages or translations,
# now and in every later apt-get install; no apt caches in the layer.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
DPKG
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
APT

chroot "$rootfs" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -qq -y' >/dev/null ||
	die "apt-get upgrade in the new $suite root failed"

# The host's CA bundle: pip and apt inside the image then trust what this
# machine trusts (a TLS-inspecting proxy's CA included). Also a local CA file,
# so update-ca-certificates (run whenever ca-certificates is upgraded) keeps it.
cp "$ca_bundle" "$rootfs/usr/local/share/ca-certificates/flask-uwsgi-host-bundle.crt"
cp "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{man,info,lintian}/* "$rootfs"/var/lib/apt/lists/* \
	"$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

# `python` as in the official images.
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
py="$(chroot "$rootfs" python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"

tar --numeric-owner -C "$rootfs" -c . | docker import \
	--change 'ENV LANG=C.UTF-8' \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	--change "LABEL org.opencontainers.image.description=\"Debian $suite minbase with Python $py (flask-uwsgi offline base)\"" \
	--change "LABEL io.github.flask-uwsgi.python-version=\"$py\"" \
	--change 'CMD ["python3"]' \
	- "$name" >/dev/null
say "built $name: Debian $suite with Python $py ($(docker image inspect -f '{{.Size}}' "$name") bytes)"
