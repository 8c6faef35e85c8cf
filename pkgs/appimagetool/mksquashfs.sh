#!@shell@
# mksquashfs as appimagetool 10 runs it (first on its PATH): nixpkgs' mksquashfs,
# plus a note when it fails. appimagetool 10 does not look at mksquashfs's
# exit status (AppImageKit's appimagetool.c, release 10: the result of the
# mksquashfs call is not checked), so a failed mksquashfs left a bare runtime
# that only failed later, far from the cause. appimagetool.sh reads the note.
@mksquashfs@ "$@" && exit 0
status=$?
if [ -n "${CRYPTIC_NET_MKSQUASHFS_FAILED:-}" ]; then
    : >"$CRYPTIC_NET_MKSQUASHFS_FAILED"
fi
exit "$status"
