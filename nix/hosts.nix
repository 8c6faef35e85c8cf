# One flake output per host: hosts/<name>.yml becomes `host-<name>`.
#
# Builtins only, by design: discovery looks at file names and never parses
# YAML (no import-from-derivation, no nixpkgs), so plain `nix eval` can
# evaluate this file with a stub builder, which tests/nix does. Whether a host
# file is valid is for `cryptic-net validate` to say, inside the build.
#
# buildHost: the per-host builder (nix/host.nix), a function from a host name
# to a derivation.
{ buildHost }:

let
  entries = builtins.readDir ./.;

  # "<name>.yml", not hidden (editor and lock files start with a dot), and not
  # a directory.
  hostOf =
    file:
    let
      m = builtins.match "([^.].*)\\.yml" file;
    in
    if m != null && entries.${file} != "directory" then builtins.head m else null;

  hosts = builtins.filter (host: host != null) (map hostOf (builtins.attrNames entries));
in
builtins.listToAttrs (
  map (host: {
    name = "host-${host}";
    value = buildHost host;
  }) hosts
)
