#!/usr/bin/env bash
# Read python-versions, the one list of the Python versions the images are built for.
#
#   scripts/versions.sh all            every version, one per line
#   scripts/versions.sh default        the version latest and dev point at
#   scripts/versions.sh offline        the versions with an offline Debian base
#   scripts/versions.sh suite X.Y      the Debian suite of X.Y; fails (one line) when none ships it
#   scripts/versions.sh eol X.Y        X.Y's end of life (YYYY-MM)
set -Eeuo pipefail

file="$(dirname "$0")/../python-versions"

rows() { awk '!/^#/ && NF >= 3 { print $1, $2, $3, $4 }' "$file"; }

# usage: field X.Y COLUMN   (2: eol, 3: suite)
field() {
	local value
	value="$(rows | awk -v v="$1" -v c="$2" '$1 == v { print $c }')"
	[ -n "$value" ] || {
		echo "flask-uwsgi: error: PYTHON_VERSION=$1 is not supported (python-versions lists: $(rows | awk '{ print $1 }' | xargs))" >&2
		exit 1
	}
	echo "$value"
}

case "${1:-}" in
	all) rows | awk '{ print $1 }' ;;
	default) rows | awk '$4 == "default" { print $1 }' ;;
	offline) rows | awk '$3 != "-" { print $1 }' ;;
	suite)
		suite="$(field "${2:?usage: $0 suite X.Y}" 3)"
		[ "$suite" != - ] || {
			echo "flask-uwsgi: error: no Debian suite ships Python $2, so it has no offline base: pull python:$2-slim (offline bases: $(rows | awk '$3 != "-" { print $1 }' | xargs))" >&2
			exit 1
		}
		echo "$suite"
		;;
	eol) field "${2:?usage: $0 eol X.Y}" 2 ;;
	*)
		echo "usage: $0 all|default|offline|suite X.Y|eol X.Y" >&2
		exit 2
		;;
esac
