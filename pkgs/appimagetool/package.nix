# appimagetool, the way the seed gets it: nix-bundle's `appimagetool.nix` at the
# revision the seed pins (flake input `nix-bundle`, flake = false), which
# unpacks AppImageKit release 10's prebuilt appimagetool and patchelfs it
# against nixpkgs' fuse (2), zlib and glib. Three things no longer hold in
# today's nixpkgs and are repaired here without copying that file:
#
# 1. It reads `stdenv.glibc`, which nixpkgs removed; it fails to evaluate
#    (nix-community/nix-bundle#96; upstream later switched to
#    `stdenv.cc.libc`). We hand it a stdenv that has the attribute again.
# 2. AppImage renamed old AppImageKit release assets with an `obsolete-`
#    prefix in July 2025 (bytes unchanged; confirmed for release 13, not
#    either way for release 10). Both names are listed, with one hash.
# 3. The AppImage also ships its own old `mksquashfs`, and appimagetool runs
#    whichever `mksquashfs` comes first on PATH. Only nixpkgs' squashfsTools
#    (4.7.x) clamps every time stamp to SOURCE_DATE_EPOCH, which Nix sets in
#    every build; the old one would make the output depend on the build time.
#    The bundled copy is replaced by nixpkgs' (through mksquashfs.sh), which
#    comes first on appimagetool's PATH.
# 4. appimagetool 10 ignores mksquashfs's exit status: a failed mksquashfs
#    gave a bare runtime and a success. mksquashfs.sh (first on its PATH) notes
#    a failure and appimagetool.sh, the `appimagetool` this package installs,
#    fails loudly on that note. tests/nix runs both scripts with a failing
#    mksquashfs.
#
# The tool's embedded runtime is the classic one (it dlopens libfuse.so.2 on
# the target host); cryptic-net never uses it: nix/host.nix always passes
# `--runtime-file` with the static type-2 runtime (pkgs/appimage-runtime).
{
  lib,
  stdenv,
  runtimeShell,
  callPackage,
  fetchurl,
  squashfsTools,
  nix-bundle,
}:

let
  fromNixBundle = callPackage "${nix-bundle}/appimagetool.nix" {
    stdenv = stdenv // {
      glibc = stdenv.cc.libc;
    };
  };
in
fromNixBundle.overrideAttrs (old: {
  # nix-bundle sets `name = "appimagekit"`, which would win over pname/version.
  name = "appimagetool-10";
  pname = "appimagetool";
  version = "10";

  # nix-bundle pins the base32 sha256 03zbiblj8a1yk1xsb5snxi4ckwn3diyldg1jh5hdjjhsmpw652ig;
  # this is the same hash in SRI form, from
  # `nix hash to-sri --type sha256 03zbiblj8a1yk1xsb5snxi4ckwn3diyldg1jh5hdjjhsmpw652ig`.
  src = fetchurl {
    urls = [
      "https://github.com/AppImage/AppImageKit/releases/download/10/appimagetool-x86_64.AppImage"
      "https://github.com/AppImage/AppImageKit/releases/download/10/obsolete-appimagetool-x86_64.AppImage"
    ];
    hash = "sha256-L4pi+K0aStlggTK8Rn1sw/LJSOxWl6V7mD4oJOmK6w8=";
  };

  # nix-bundle's installPhase does not run the postInstall hook, so the repair
  # is appended to the phase itself.
  installPhase = old.installPhase + ''
    # The real tool stays beside the files it came with, under makeWrapper's
    # name for a wrapped program; nixpkgs' mksquashfs (checked) replaces the
    # bundled one there.
    mv "$out/bin/appimagetool" "$out/bin/.appimagetool-wrapped"
    rm -f "$out/bin/mksquashfs"
    substitute ${./mksquashfs.sh} "$out/bin/mksquashfs" \
      --subst-var-by shell ${runtimeShell} \
      --subst-var-by mksquashfs ${lib.getExe' squashfsTools "mksquashfs"}
    substitute ${./appimagetool.sh} "$out/bin/appimagetool" \
      --subst-var-by shell ${runtimeShell} \
      --subst-var-by bin "$out/bin" \
      --subst-var-by appimagetool "$out/bin/.appimagetool-wrapped"
    chmod +x "$out/bin/mksquashfs" "$out/bin/appimagetool"
  '';

  meta = {
    description = "AppImageKit release 10 appimagetool (prebuilt), with nixpkgs' mksquashfs";
    homepage = "https://github.com/AppImage/AppImageKit";
    license = lib.licenses.mit;
    mainProgram = "appimagetool";
    sourceProvenance = [ lib.sourceTypes.binaryNativeCode ];
    # Only an x86_64 build is pinned (and its hash known).
    platforms = [ "x86_64-linux" ];
  };
})
