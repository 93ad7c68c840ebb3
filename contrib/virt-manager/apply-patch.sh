#!/bin/bash
# Apply (or revert) the live clone patch to an installed virt-manager.
#
# usage: apply-patch.sh [--root DIR] [--check] [--revert]
#
#   --root DIR  the virt-manager tree: DIR/virtManager, DIR/ui, DIR/virtinst
#               (default /usr/share/virt-manager, Debian's); a source tree
#               of virt-manager works too
#   --check     only say whether the patch is applied; exit 0 if it is,
#               1 if it is not
#   --revert    take the patch out again
#
# The patch is for virt-manager 4.1.0 (Debian 12); another version is
# refused.  Running it again changes nothing.  A package upgrade of
# virt-manager puts back the original files: run it again afterwards.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

here=$(dirname "$(realpath "$0")")
patchfile=$here/virt-manager-4.1.0-live-clone.patch
known_version=4.1.0

root=/usr/share/virt-manager
action=apply
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root=${2:?--root needs a directory}; shift 2 ;;
        --check) action=check; shift ;;
        --revert) action=revert; shift ;;
        -h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "apply-patch: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

command -v patch >/dev/null || { echo "apply-patch: needs patch(1)" >&2; exit 2; }
buildconfig=$root/virtinst/buildconfig.py
[ -f "$root/virtManager/clone.py" ] && [ -f "$buildconfig" ] ||
    { echo "apply-patch: no virt-manager in $root" >&2; exit 2; }
version=$(sed -nE 's/^__version__ = "([^"]*)"$/\1/p' "$buildconfig")
if [ "$version" != "$known_version" ]; then
    echo "apply-patch: virt-manager ${version:-of unknown version} in $root;" \
         "the patch is for $known_version only" >&2
    exit 2
fi

# quiet dry runs: is the patch applied, can it be applied?
dry() { patch -p1 -d "$root" --dry-run --batch --silent "$@" < "$patchfile" >/dev/null 2>&1; }
if dry --reverse --force; then
    state=applied
elif dry --forward; then
    state="not applied"
else
    echo "apply-patch: $root has changes that the patch does not fit;" \
         "reinstall virt-manager first" >&2
    exit 1
fi

case "$action" in
    check)
        echo "live clone patch: $state in $root"
        [ "$state" = applied ] ;;
    apply)
        if [ "$state" = applied ]; then
            echo "live clone patch: already applied in $root"
        else
            patch -p1 -d "$root" --forward --batch --no-backup-if-mismatch < "$patchfile"
            echo "live clone patch: applied in $root"
        fi ;;
    revert)
        if [ "$state" = "not applied" ]; then
            echo "live clone patch: not applied in $root"
        else
            patch -p1 -d "$root" --reverse --batch --no-backup-if-mismatch < "$patchfile"
            echo "live clone patch: reverted in $root"
        fi ;;
esac
