# The static AppImage type-2 runtime (AppImage/type2-runtime 20251108), built
# from source. Call this with `pkgsStatic.callPackage`: fuse3, squashfuse,
# zstd, zlib, xz, lz4 and lzo then come as static (musl) libraries.
#
# Why: appimagetool release 10 embeds the classic runtime, which dlopens
# libfuse.so.2 on the target host. This one links libfuse 3 statically, so the
# AppImage needs nothing from the host (requirement 2 of the seed); as root it
# mounts with mount(2) directly, and `--appimage-extract-and-run` needs no FUSE
# at all.
#
# Upstream builds on Alpine with clang (src/runtime/Makefile,
# scripts/build-runtime.sh, scripts/common/install-dependencies.sh). This is the
# same compile and link, read from those files, with these differences:
# - libfuse: nixpkgs' fuse3 instead of a 3.15.0 tarball (whose hash we do not
#   have). Upstream's patches/libfuse/mount.c.diff is left out: it makes
#   libfuse exec only $FUSERMOUNT_PROG, and ralismark/nix-appimage reports it
#   fails ("failed to exec fusermount: Permission denied"). Without it,
#   non-root mounts need fusermount3 from the host's PATH; cryptic-net runs as
#   root, where libfuse mounts without fusermount.
# - nixpkgs' fuse3 rewrites "/bin/mount" and "/bin/umount" in lib/mount_util.c
#   to store paths of util-linux; they are put back, or the runtime (and so
#   every AppImage) would contain /nix/store strings.
# - squashfuse: nixpkgs' version, with its private headers installed (the
#   runtime includes <squashfuse/fuseprivate.h>), as upstream does by hand.
#   nixpkgs builds squashfuse with xz, lz4 and lzo as well, hence -llzma
#   -llz4 -llzo2 (as in ralismark/nix-appimage).
# - no -lmimalloc: upstream links Alpine's mimalloc only as a faster malloc;
#   the runtime does not call it.
# - gcc (stdenv) instead of clang; no -Werror, so that a new compiler warning
#   does not break the build; -static without -static-pie (no dynamic section
#   at all).
# - the version string upstream's CI writes into src/runtime/version is set to
#   the same form, for the pinned commit.
#
# Tried offline (no Nix): this exact compile, link, strip and magic, with gcc 12
# against Debian 12's static glibc and libfuse 3.14 and squashfuse 0.6.1 (its
# private headers installed as below), gives a static runtime (no dynamic
# section) that keeps all six sections; packed with appimagetool
# `--runtime-file`, the AppImage runs AppRun in mount mode as root (no
# fusermount involved) and with --appimage-extract-and-run, and a SIGTERM to
# it stops pmux, nebula and dnsmasq and unmounts the image. gcc warns
# -Wformat-overflow in runtime.c, which is why -Werror is dropped.
#
# Our patch, ./extract-and-run.patch (issue 10; docs/security.md). Upstream's
# --appimage-extract-and-run extracts into $TMPDIR/appimage_extracted_<md5 of
# the file>: any local user can predict that name and pre-create it, files of
# the same size are skipped, and fopen/mkdir follow the symlinks they find, so
# root writes (and then runs) wherever that user points. And it waits for its
# child without passing SIGTERM on (AppImageKit#1053), orphaning pmux. The
# patch:
# - makes the directory with mkdtemp (mode 0700, a name nobody can predict);
# - writes each file by removing whatever has its name and creating it with
#   O_CREAT|O_EXCL|O_NOFOLLOW (fchmod on the descriptor, not chmod on the
#   name): no symlink it did not create is ever followed, also with
#   --appimage-extract into an existing squashfs-root;
# - passes SIGTERM, SIGINT, SIGHUP and SIGQUIT on to the child (one arriving
#   before the child exists is remembered and delivered, or ends the run
#   before it starts), keeps waiting through EINTR, and still removes the
#   directory afterwards.
# The MD5 of the file is still computed (unused) to keep the patch small.
#
# Verified by hand on 2026-11-28 (Debian 12, gcc 12.2, no Nix; sources from
# AppImage/type2-runtime dd6cebe and vasi/squashfuse 0.6.1, neither kept):
#   squashfuse: ./autogen.sh && ./configure --disable-shared --enable-static
#     && make install, private headers copied into include/squashfuse;
#   runtime: `patch -p1 < extract-and-run.patch`, then the compile, link,
#     strip and magic of buildPhase below with -lfuse3 -lzstd -lz -llzma;
#   an alpha AppImage (tests' stand-in pmux) packed with the classic
#     appimagetool's --runtime-file, once with the unpatched and once with the
#     patched runtime, both mode 0700.
# Attack 1: as nobody, `mkdir -m 0777 /tmp/appimage_extracted_<md5>` and
#   `ln -s /tmp/i10-victim <that>/etc` (victim: nobody's 0777 directory), then
#   as root `TMPDIR=/tmp ./alpha.AppImage --appimage-extract-and-run version`.
#   Unpatched: root wrote cryptic-net/host.env, dnsmasq/{dnsmasq.conf,hosts},
#   nebula/{ca.crt,host.crt,host.key,nebula.yml} into the victim directory
#   (AppRun then refused with status 9: the AppDir is nobody's). Patched:
#   nothing written there, the planted directory untouched, `version` ran
#   from a fresh directory and printed alpha's versions, status 0.
# Attack 2: `unshare --net -- ./alpha.AppImage --appimage-extract-and-run run`
#   with TMPDIR and CRYPTIC_NET_LOCK_DIR of its own, then `kill -TERM` to the
#   runtime. Unpatched: exit 143, pmux, nebula and dnsmasq left running
#   (orphaned), appimage_extracted_<md5> (0755) left behind. Patched: the
#   directory was appimage_extracted_<6 random characters>, mode 0700 root;
#   exit 0, no process and no directory left. Same with SIGINT. SIGHUP and
#   SIGQUIT were passed on too, and ignored (AppRun ignores both for pmux, see
#   appdir/AppRun), so the network kept running until a SIGTERM stopped it
#   cleanly. Both attacks are in nix/checks/vm.nix for a networked builder.
{
  lib,
  stdenv,
  fetchFromGitHub,
  pkg-config,
  fuse3,
  squashfuse,
  zstd,
  zlib,
  xz,
  lz4,
  lzo,
}:

let
  rev = "dd6cebedcbddde9c82f89b011e8e1d40b6e43868"; # tag 20251108

  fuse3' = fuse3.overrideAttrs (old: {
    preConfigure = (old.preConfigure or "") + ''
      sed -i -E 's|"'"$NIX_STORE"'/[^"]*/bin/(u?mount)"|"/bin/\1"|g' lib/mount_util.c
      if grep -n "$NIX_STORE" lib/mount_util.c; then
        echo "a store path is still compiled into libfuse's mount_util.c" >&2
        exit 1
      fi
    '';
  });

  # squashfuse's FUSE argument has been named `fuse` (0.5.2), `fuse3` (0.6.1,
  # nixpkgs PR #340410; pkgs/by-name/sq/squashfuse/package.nix as stored at
  # NixOS/nixpkgs 0223c7a) and `fuse` again (a later 0.6.3): ask the function
  # which one it takes instead of guessing.
  fuseArgName = if lib.functionArgs squashfuse.override ? fuse3 then "fuse3" else "fuse";

  squashfuse' = (squashfuse.override { ${fuseArgName} = fuse3'; }).overrideAttrs (old: {
    postInstall = (old.postInstall or "") + ''
      install -D -m644 -t "$out/include/squashfuse" ./*.h
    '';
  });
in
stdenv.mkDerivation {
  pname = "appimage-type2-runtime";
  version = "20251108";

  # `nix hash path` of `git archive` of commit dd6cebe (tag 20251108); the same
  # method reproduces the hash ralismark/nix-appimage pins for an older
  # revision. From shared/FACTS.md.
  src = fetchFromGitHub {
    owner = "AppImage";
    repo = "type2-runtime";
    inherit rev;
    hash = "sha256-8Ap9P0p0ZQgaIGBHzzmh6wOcIGoBT17Zyap8dnyvvZM=";
  };

  nativeBuildInputs = [ pkg-config ];
  buildInputs = [
    fuse3'
    squashfuse'
    zstd
    zlib
    xz
    lz4
    lzo
  ];

  # Our own change (./extract-and-run.patch; see the top of this file): a private
  # extraction directory and stop signals passed on to the child.
  patches = [ ./extract-and-run.patch ];

  # No hardeningDisable = [ "pie" ]: nixpkgs dropped the "pie" flag (PRs #442510,
  # #449771); make-derivation.nix's knownHardeningFlags no longer lists it, and an
  # unknown flag aborts evaluation ("mkDerivation was called with unsupported
  # hardening flags"; read in a nixpkgs fork's copy, Sigmanificient/nixpkgs
  # bb07827, since the pinned 7c8764b is not stored here). gcc links PIE by
  # default but -static alone gives a non-PIE static executable (PR #439314),
  # which the `static` check verifies (no dynamic section).

  dontConfigure = true;

  buildPhase = ''
    runHook preBuild

    cd src/runtime
    $CC -std=gnu99 -Os -D_FILE_OFFSET_BITS=64 \
      -DGIT_COMMIT='"https://github.com/AppImage/type2-runtime/commit/${builtins.substring 0 7 rev}"' \
      -T data_sections.ld -ffunction-sections -fdata-sections -Wl,--gc-sections \
      -static -Wall \
      -I${lib.getDev squashfuse'}/include/squashfuse \
      $($PKG_CONFIG --cflags fuse3) \
      runtime.c \
      -Wl,--start-group \
      -lsquashfuse -lsquashfuse_ll -lfuse3 -lzstd -lz -llzma -llz4 -llzo2 \
      -Wl,--end-group \
      -o runtime

    # As upstream: strip first, then write the type-2 magic "AI\x02" at byte 8
    # (objcopy/strip would not keep it). Sections .appimage, .static,
    # .digest_md5, .upd_info, .sha256_sig and .sig_key are allocated, so
    # strip keeps them; appimagetool fills some of them in.
    $STRIP --strip-debug --strip-unneeded runtime
    printf 'AI\002' | dd of=runtime bs=1 count=3 seek=8 conv=notrunc status=none

    runHook postBuild
  '';

  installPhase = ''
    runHook preInstall
    install -Dm755 runtime "$out/runtime"
    runHook postInstall
  '';

  # The file is finished: no patchelf, no second strip, no shebang rewriting.
  dontFixup = true;

  meta = {
    description = "Static AppImage type-2 runtime (libfuse 3 and squashfuse linked in)";
    homepage = "https://github.com/AppImage/type2-runtime";
    license = lib.licenses.mit;
    platforms = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };
}
