# One output per host: <dir>/<name>.yml becomes `host-<name>`.
#
# Builtins only, by design: discovery looks at file names and never parses
# YAML (no import-from-derivation, no nixpkgs), so plain `nix eval` can
# evaluate this file with a stub builder, which tests/nix does. Whether a host
# file is valid is for `cryptic-net describe` to say, inside the build.
#
#   dir        the inventory's hosts/ directory (a path; it may not exist yet,
#              right after `nix flake init`: then there are no hosts)
#   buildHost  the per-host builder (nix/host.nix), host name -> derivation
{
  dir,
  buildHost,
}:

let
  entries = if builtins.pathExists dir then builtins.readDir dir else { };

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
