#!/usr/bin/env bash
# scripts/kernel-package.sh META: the versioned Debian kernel package that
# the meta package META (linux-image-amd64, linux-image-cloud-amd64) points
# at today, e.g. linux-image-6.1.0-57-amd64; the package lists are updated
# once if they do not know META. Exit status 1 (nothing printed) where the
# archive cannot say: callers fall back to what they have cached.
set -uo pipefail
for try in 1 2; do
    pkg=$(apt-cache depends "$1" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$pkg" ] && { echo "$pkg"; exit 0; }
    [ $try = 2 ] || apt-get update -qq >/dev/null 2>&1
done
exit 1
