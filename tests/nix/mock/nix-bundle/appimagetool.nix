# Stand-in for nix-bundle's appimagetool.nix at 223f4ff, written here (not a copy): the
# argument list of that file, and an installPhase that, like the real one, reads
# `stdenv.glibc` (gone from nixpkgs) and does not run the postInstall hook.
{
  stdenv,
  lib,
  fetchurl,
  fuse,
  zlib,
  squashfsTools,
  glib,
}:

stdenv.mkDerivation {
  name = "appimagekit";
  src = fetchurl {
    url = "https://example.invalid/appimagetool-x86_64.AppImage";
    hash = "sha256-L4pi+K0aStlggTK8Rn1sw/LJSOxWl6V7mD4oJOmK6w8=";
  };
  buildInputs = [ squashfsTools ];
  # Only what the test looks for: the phase uses stdenv.glibc and relinks the binaries.
  installPhase = ''
    echo "stand-in: patchelf against ${stdenv.glibc.out} ${
      lib.makeBinPath [
        zlib
        fuse
        glib
      ]
    }"
  '';
}
