#!/usr/bin/env bash
# Let this machine run another architecture's Linux binaries under QEMU, so
# that its images can be built and tested here (make images PLATFORM=...).
#
#   scripts/emulation.sh start ARCH   no-op when ARCH binaries run already;
#                                     otherwise, as root on Debian: install
#                                     qemu-user-static, mount binfmt_misc if it
#                                     is not, register qemu-ARCH
#   scripts/emulation.sh stop         unregister and unmount only what `start`
#                                     registered and mounted
#
# ARCH is Docker's name (arm64) or the kernel's (aarch64). The registration is
# the one Debian's qemu-user-static ships for systemd-binfmt, flags F and P
# included: F opens the interpreter once, so it runs inside containers too.
# https://docs.kernel.org/admin-guide/binfmt-misc.html
set -Eeuo pipefail

here="$(dirname "$0")"
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

binfmt=/proc/sys/fs/binfmt_misc
# What start did, so stop undoes that and nothing else (a handler registered by
# the machine's own binfmt service stays).
state_dir="${FLASK_UWSGI_ENGINE_DIR:-/var/tmp/flask-uwsgi-engine}"
registered="$state_dir/binfmt-registered"
mounted="$state_dir/binfmt-mounted"

# usage: qemu_name ARCH   qemu's name of a Docker or kernel architecture name
qemu_name() {
	case "$1" in
		arm64 | aarch64) echo aarch64 ;;
		*) die "ARCH=$1 is not supported: arm64 is" ;;
	esac
}

# usage: runs ARCH   qemu-ARCH is registered, enabled, and with flag F (a
# handler without it is not found inside containers)
runs() {
	[ "$(head -n 1 "$binfmt/qemu-$1" 2>/dev/null)" = enabled ] && grep -q '^flags: .*F' "$binfmt/qemu-$1"
}

start() {
	local arch conf
	arch="$(qemu_name "${1:?usage: $0 start ARCH}")"
	[ "$(uname -m)" = "$arch" ] && return 0
	runs "$arch" && return 0
	[ "$(id -u)" = 0 ] || die "running $arch binaries needs QEMU registered with binfmt_misc, which needs root"
	conf="/usr/lib/binfmt.d/qemu-$arch.conf"
	[ -e "$conf" ] || apt_install "emulating $arch needs QEMU" qemu-user-static
	[ -e "$conf" ] || die "$conf is missing after installing qemu-user-static"
	# Under systemd, the package's install has systemd-binfmt register it (and
	# every QEMU handler, at each boot): that one is the machine's, not ours.
	runs "$arch" && return 0
	[ ! -e "$binfmt/qemu-$arch" ] ||
		die "$binfmt/qemu-$arch is registered without flag F or disabled: unregister it (echo -1 > $binfmt/qemu-$arch)"
	mkdir -p "$state_dir"
	if [ ! -e "$binfmt/register" ]; then
		mount -t binfmt_misc binfmt_misc "$binfmt" || die "mounting binfmt_misc on $binfmt failed"
		touch "$mounted"
	fi
	say "registering qemu-$arch with binfmt_misc ($conf)"
	grep -v '^#' "$conf" >"$binfmt/register" || die "registering $conf with $binfmt failed"
	echo "$arch" >>"$registered"
	runs "$arch" || die "qemu-$arch is registered but not enabled ($binfmt/qemu-$arch)"
}

stop() {
	local arch
	if [ -f "$registered" ]; then
		while read -r arch; do
			if [ -e "$binfmt/qemu-$arch" ]; then
				say "unregistering qemu-$arch"
				echo -1 >"$binfmt/qemu-$arch"
			fi
		done <"$registered"
		rm -f "$registered"
	fi
	if [ -f "$mounted" ]; then
		rm -f "$mounted"
		umount "$binfmt" 2>/dev/null || say "binfmt_misc on $binfmt is busy: left mounted"
	fi
}

case "${1:-}" in
	start) start "${2:-}" ;;
	stop) stop ;;
	*) die "usage: $0 start ARCH | stop" ;;
esac
