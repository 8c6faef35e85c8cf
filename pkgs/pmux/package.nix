# pmux: the process supervisor inside every AppImage. Runs nebula and dnsmasq,
# restarts them with backoff, stops them gracefully, merges their logs.
#
# The repository's HEAD is now a tombstone (the project moved to
# code.betamike.com/micropelago/pmux); a451ee6 is the last commit with code.
# Hashes: `hash` is `nix hash path` of `git archive` of that commit; `vendorHash`
# is `nix hash path` of the `go mod vendor` output (only dependency
# gopkg.in/yaml.v2 v2.4.0; go.mod says go 1.16). Both pinned in nix/pins.json
# (tests/nix/test_nix_hashes.py checks they agree).
{
  lib,
  buildGoModule,
  fetchFromGitHub,
}:

buildGoModule {
  pname = "pmux";
  version = "0-unstable-2022-06-30";

  src = fetchFromGitHub {
    owner = "cryptic-io";
    repo = "pmux";
    rev = "a451ee620c836aaed43e2abe6cabf3f9a3904d67";
    hash = "sha256-BEBy3eJvRXVpedo3RfU5QCcJSH+3GvtRf445pHDHGTg=";
  };

  vendorHash = "sha256-w3mFra7Je+8qIDQMSyUYucoLZ6GtrZmr56O6xmihIYc=";

  # No C at all: the Go linker then writes a static executable.
  env.CGO_ENABLED = 0;

  # Same reasoning as pkgs/nebula: never a PIE, so never an ELF interpreter
  # (and no `pie` hardening flag: nixpkgs no longer knows it).
  preBuild = ''
    export GOFLAGS="$GOFLAGS -buildmode=exe"
  '';

  ldflags = [
    "-s"
    "-w"
  ];

  meta = {
    description = "Process multiplexer: runs, restarts and stops a set of processes, one log stream";
    homepage = "https://github.com/cryptic-io/pmux";
    license = lib.licenses.wtfpl;
    mainProgram = "pmux";
    platforms = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };
}
