# A cryptic-net network: network.yml, ca.crt and hosts/ beside this file
# (`cryptic-net init` and `cryptic-net new-host` write them). Every
# hosts/<name>.yml becomes `packages.<system>.host-<name>`, one static
# AppImage: `nix build .#host-<name>`. A flake only sees files git tracks:
# `git add` what init and new-host write.
{
  description = "A cryptic-net overlay network";

  # The cryptic-net flake this network was made from (`nix flake init -t`).
  # Its flake.lock pins nixpkgs and every tool, so the same inventory gives the
  # same bytes wherever it is built; `nix flake update` moves to a newer one.
  inputs.cryptic-net.url = "github:cryptic-net/cryptic-net";

  outputs =
    { cryptic-net, ... }:
    cryptic-net.lib.mkNetwork { root = ./.; };
}
