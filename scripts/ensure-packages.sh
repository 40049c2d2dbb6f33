#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# scripts/ensure-packages.sh WHO PACKAGE...: installs the Debian packages
# that are missing (as root), saying which; nothing when all are there.
set -eu
who=$1
shift
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -n "$missing" ] || exit 0
echo "$who: installing$missing" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
