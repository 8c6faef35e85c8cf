# Static nebula and nebula-cert, from nixpkgs' own recipe (pkgs/by-name/ne/nebula).
#
# nixpkgs builds nebula with `withPkcs11 ? true`, which turns CGO on and links
# against the host's libc. `withPkcs11 = false` drops the pkcs11 build tag and
# sets CGO_ENABLED=0 in the recipe itself, so the Go linker produces a static
# binary. Go may still choose a position-independent (dynamically loaded)
# executable on some platforms, which briefly made CGO-off binaries carry an
# ELF interpreter: `-buildmode=exe` rules that out, and the `static` flake check
# proves there is no INTERP header and no DT_NEEDED entry.
#
# No `hardeningDisable = [ "pie" ]`: nixpkgs removed the `pie` hardening flag
# (NixOS/nixpkgs#442510, its uses in #449771). Read in the stored nixpkgs
# sources: pkgs/stdenv/generic/make-derivation.nix (the version without "pie"
# in knownHardeningFlags) aborts on any flag not in that list
# ("mkDerivation was called with unsupported hardening flags"), and
# pkgs/build-support/go/module.nix only ever added `-buildmode=pie` when
# NIX_HARDENING_ENABLE contained "pie" (at 010277de), which can no longer
# happen. tests/nix/mock refuses the flag too.
{
  nebula,
}:

(nebula.override { withPkcs11 = false; }).overrideAttrs (old: {
  pname = "nebula-static";

  # GOFLAGS is read from the environment by `go install` in buildPhase; a later
  # -buildmode wins over any earlier one.
  preBuild = (old.preBuild or "") + ''
    export GOFLAGS="$GOFLAGS -buildmode=exe"
  '';

  # nixpkgs already runs nebula's test suite for this exact source; only the
  # link mode differs here, and `go test` is not asked to build an `exe`.
  doCheck = false;

  meta = old.meta // {
    description = "Nebula overlay network (static, no pkcs11)";
    mainProgram = "nebula";
    platforms = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };
})
