# Stand-in for nix-bundle's appimagetool.nix at 223f4ff: the same arguments,
# and, like that file, an installPhase that reads `stdenv.glibc` (which
# nixpkgs no longer has) and does not run the postInstall hook.
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
  installPhase = ''
    mkdir -p $out
    for x in $out/bin/*; do
      patchelf --set-rpath ${
        lib.makeBinPath [
          zlib
          stdenv.glibc.out
          fuse
          glib
        ]
      } $x
    done
  '';
}
