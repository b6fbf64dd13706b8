#!/usr/bin/env bash
# The Dockerfile's runtime stage installs the Debian package of every shared library that the
# shipped binaries link directly (their ELF NEEDED entries), so the image cannot start with a
# missing library (e.g. after a new dependency). A library whose package a listed package
# depends on counts as installed (the Debian package lists on this machine say which); the
# C/C++ runtime is in the debian:12 base image.
#   dockerfile_libs_test.sh DOCKERFILE BINARY...
set -euo pipefail
dockerfile=$1
shift
# Words of the runtime stage's `apt-get install` lines (everything after the last FROM).
runtime_packages=$(awk '/^FROM /{stage=""} {stage=stage"\n"$0} END{print stage}' "$dockerfile" |
  sed -n '/apt-get install/,/rm -rf/p' | sed 's/[\\]/ /g' | tr -s ' ' '\n' |
  grep -E '^[a-z0-9][a-z0-9+.-]+$' |
  sort -u)
# A package that a listed package depends on is installed with it (apt resolves Depends).
provided=$runtime_packages
for p in $runtime_packages; do
  deps=$(dpkg-query -W -f='${Depends}' "$p" 2>/dev/null || true)
  provided+=$'\n'$(tr -s ',|' '\n' <<<"$deps" | sed 's/(.*)//; s/:any//; s/^ *//; s/ *$//')
done
base="libc6 libgcc-s1 libstdc++6"
missing=0
checked=0
# "binary soname path" for every direct dependency, each library once (dpkg -S is slow).
needed=$(for bin in "$@"; do
  [ -x "$bin" ] || { echo "FAIL: $bin is not built" >&2; exit 1; }
  readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r soname; do
    echo "$bin $soname $(ldd "$bin" | awk -v s="$soname" '$1 == s {print $3}')"
  done
done | sort -u -k2,2)
[ -n "$needed" ] || exit 1
while read -r bin soname path; do
  [ -n "$path" ] || { echo "FAIL: $bin: $soname does not resolve"; missing=1; continue; }
  pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path" 2>/dev/null || true)
  pkg=${pkg%%:*}
  if [ -z "$pkg" ]; then
    echo "FAIL: $bin: no Debian package owns $path"
    missing=1
    continue
  fi
  checked=$((checked + 1))
  case " $base " in *" $pkg "*) continue ;; esac
  if ! grep -qx "$pkg" <<<"$provided"; then
    echo "FAIL: $bin needs $soname from $pkg, which the Dockerfile runtime stage does not install"
    missing=1
  fi
done <<<"$needed"
[ "$checked" -gt 0 ] || { echo "FAIL: no libraries checked"; exit 1; }
[ "$missing" -eq 0 ] && echo "ok: $checked direct library dependencies are in the runtime stage"
exit "$missing"
