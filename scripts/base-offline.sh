#!/usr/bin/env bash
# Build a Debian base image equivalent to python:X.Y-slim from Debian's own
# packages, for machines that cannot pull from a registry.
#
#   scripts/base-offline.sh [IMAGE_NAME]     default flask-uwsgi-base:X.Y, and
#                                            flask-uwsgi-base:X.Y-ARCH for another
#                                            architecture than this machine's
#
# PYTHON_VERSION  X.Y; python-versions names the Debian suite that ships it
#                 (default: the default version there)
# PLATFORM        linux/arm64, or empty (default) for the Docker engine's
#                 own; another architecture runs under QEMU
#                 (scripts/emulation.sh sets it up)
# DEBIAN_MIRROR   default: the mirror this machine's apt uses
# CA_BUNDLE       CA certificates the image trusts; default: this machine's,
#                 so pip and apt work behind a TLS-inspecting proxy too
# FORCE=1         rebuild even if the image exists
set -Eeuo pipefail

here="$(dirname "$0")"
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

python="${PYTHON_VERSION:-$("$here/versions.sh" default)}"
suite="$("$here/versions.sh" suite "$python")" || exit 1
# Docker's and Debian's names of amd64 and arm64 are the same.
host_arch="$(engine_arch)"
arch="$(target_arch)"
name="${1:-$(offline_base "$python" "$arch")}"
ca_bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

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

# usage: has_suite MIRROR SUITE   (the mirror publishes SUITE)
has_suite() { curl -fsSL -o /dev/null "$1/dists/$2/Release" 2>/dev/null; }

# usage: release_expired MIRROR SUITE   (its Release file is past Valid-Until)
release_expired() {
	local until
	until="$(curl -fsSL "$1/dists/$2/Release" | sed -n 's/^Valid-Until: //p')"
	[ -n "$until" ] && (($(date -d "$until" +%s) < $(date +%s)))
}

if [ -z "${FORCE:-}" ] && docker image inspect "$name" >/dev/null 2>&1; then
	say "$name exists ($(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.description"}}' "$name")); FORCE=1 rebuilds it"
	exit 0
fi
[ "$(id -u)" = 0 ] || die "debootstrap needs root; run as root or pull BASE_IMAGE instead"
command -v debootstrap >/dev/null || apt_install "debootstrap is missing" debootstrap
[ -r "$ca_bundle" ] || die "CA_BUNDLE=$ca_bundle is not readable"
[ "$arch" = "$host_arch" ] || "$here/emulation.sh" start "$arch"
mirror="${DEBIAN_MIRROR:-$(host_mirror)}"
security_mirror="${mirror%/debian}/debian-security"
has_suite "$mirror" "$suite" || die "$mirror has no Debian $suite (DEBIAN_MIRROR)"

# A debootstrap older than the suite has no script for it; testing and
# unstable are bootstrapped alike, so sid's script serves.
script=/usr/share/debootstrap/scripts/$suite
[ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid

rootfs="$(mktemp -d "${TMPDIR:-/tmp}/flask-uwsgi-base.XXXXXX")"
trap 'rm -rf "$rootfs" "$rootfs.log" "$rootfs.image"' EXIT
# apt in the chroot downloads as _apt, which must reach into it.
chmod 0755 "$rootfs"

say "building $name: Python $python from Debian $suite for $arch ($mirror)"
debootstrap --arch="$arch" --variant=minbase --include=ca-certificates \
	"$suite" "$rootfs" "$mirror" "$script" >"$rootfs.log" 2>&1 || {
	tail -n 20 "$rootfs.log" >&2
	die "debootstrap $suite failed"
}

# Security and point-release updates, as the official images carry them
# (testing has no -updates of substance, unstable has neither).
{
	echo "deb $mirror $suite main"
	if has_suite "$mirror" "$suite-updates"; then echo "deb $mirror $suite-updates main"; fi
	if has_suite "$security_mirror" "$suite-security"; then echo "deb $security_mirror $suite-security main"; fi
} >"$rootfs/etc/apt/sources.list"

# A mirror snapshot older than its Release file's Valid-Until (a week for
# testing and unstable) makes apt refuse it. Only then, say so and let apt
# accept it: every later `apt-get update` in images built on this base needs
# the same.
if release_expired "$mirror" "$suite"; then
	say "the $suite Release file on $mirror is past its Valid-Until: apt in $name accepts it anyway"
	cat >"$rootfs/etc/apt/apt.conf.d/99flask-uwsgi-valid-until" <<-'APT'
		// flask-uwsgi offline base: this mirror's Release file was past its
		// Valid-Until when the base was built (scripts/base-offline.sh).
		Acquire::Check-Valid-Until "false";
	APT
fi

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

# pythonX.Y by name: it is python3 in most suites, and in sid the next
# release beside it (python3 resolves to it below). apt, not debootstrap,
# resolves its dependencies (debootstrap misses virtual packages).
chroot "$rootfs" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -qq -y &&
	DEBIAN_FRONTEND=noninteractive apt-get install -qq -y python$python python$python-venv" >"$rootfs.log" 2>&1 || {
	tail -n 20 "$rootfs.log" >&2
	die "installing Python $python in the new $suite root failed"
}

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

# python3 and python are this Python, as in the official images (/usr/local/bin
# comes first on PATH), whatever the suite's own python3 is.
ln -sf "/usr/bin/python$python" "$rootfs/usr/local/bin/python3"
ln -sf "/usr/bin/python$python" "$rootfs/usr/local/bin/python"
py="$(chroot "$rootfs" /usr/bin/env PATH=/usr/local/bin:/usr/bin:/bin python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
[[ "$py" == "$python".* ]] || die "the $suite root's python3 is $py, not $python"

# The root as a one-layer image in `docker save`'s format, for `docker load`:
# unlike `docker import --platform` (which Docker 20.10, Debian 12's engine, ignores), its
# config records the architecture, which builds on it inherit.
# https://github.com/moby/moby/blob/master/image/spec/spec.md
image="$rootfs.image"
mkdir "$image"
tar --numeric-owner -C "$rootfs" -cf "$image/layer.tar" .
layer="$(sha256sum "$image/layer.tar" | cut -d' ' -f1)"
cat >"$image/config.json" <<-JSON
	{"architecture": "$arch", "os": "linux", "created": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
	 "config": {"Env": ["LANG=C.UTF-8", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
	  "Cmd": ["python3"],
	  "Labels": {"org.opencontainers.image.description": "Debian $suite minbase with Python $py (flask-uwsgi offline base)",
	   "io.github.flask-uwsgi.python-version": "$py", "io.github.flask-uwsgi.debian-suite": "$suite"}},
	 "rootfs": {"type": "layers", "diff_ids": ["sha256:$layer"]},
	 "history": [{"created_by": "scripts/base-offline.sh: debootstrap $suite, python$python"}]}
JSON
printf '[{"Config": "config.json", "RepoTags": ["%s"], "Layers": ["layer.tar"]}]\n' "$name" >"$image/manifest.json"
tar -C "$image" -c . | docker load -q >/dev/null || die "docker load of the new $suite root failed"
say "built $name: Debian $suite with Python $py for $arch ($(docker image inspect -f '{{.Size}}' "$name") bytes)"
