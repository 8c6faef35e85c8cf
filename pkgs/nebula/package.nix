# Static nebula and nebula-cert, from nixpkgs' own recipe (pkgs/by-name/ne/nebula).
#
# nixpkgs builds nebula with `withPkcs11 ? true`, which turns CGO on and links
# against the host's libc. `withPkcs11 = false` drops the pkcs11 build tag and
# sets CGO_ENABLED=0 in the recipe itself, so the Go linker produces a static
# binary. Go may still choose a position-independent (dynamically loaded)
# executable: buildGoModule adds `-buildmode=pie` whenever the `pie` hardening
# flag is on, and some platforms default to PIE, which briefly made CGO-off
# binaries carry an ELF interpreter. Both are ruled out here, and the `static`
# flake check proves there is no INTERP header and no DT_NEEDED entry.
{
  nebula,
}:

(nebula.override { withPkcs11 = false; }).overrideAttrs (old: {
  pname = "nebula-static";

  hardeningDisable = (old.hardeningDisable or [ ]) ++ [ "pie" ];

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
