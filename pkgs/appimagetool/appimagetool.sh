#!@shell@
# appimagetool 10 with a failed mksquashfs made loud: runs the real tool
# (.appimagetool-wrapped) with mksquashfs.sh first on its PATH and fails when
# mksquashfs did, whatever appimagetool's own exit status says.
set -u
note=$(mktemp "${TMPDIR:-/tmp}/appimagetool-mksquashfs.XXXXXX") || exit 1
rm -f "$note"
CRYPTIC_NET_MKSQUASHFS_FAILED=$note PATH="@bin@:$PATH" @appimagetool@ "$@"
status=$?
if [ -e "$note" ]; then
    rm -f "$note"
    echo "appimagetool: mksquashfs failed (its messages are above); no AppImage was made" >&2
    exit 1
fi
exit "$status"
