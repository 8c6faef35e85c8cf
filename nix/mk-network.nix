# lib.mkNetwork: any inventory directory -> flake outputs, per system.
#
#   outputs = { cryptic-net, ... }: cryptic-net.lib.mkNetwork { root = ./.; };
#
# gives, for each system:
#   packages.host-<name>  one static AppImage per hosts/<name>.yml
#   checks                every host-<name>, `validate` (the inventory,
#                         validated once) and `configs` (nebula -test,
#                         dnsmasq --test on every host's configuration)
#   apps.cryptic-net      the glue (init, new-host, validate, ...); also default
#   devShells.default     cryptic-net and nebula-cert on PATH
#
# The toolchain (nixpkgs, the static binaries, the glue) is this flake's, at
# its pinned revisions: the same inventory gives the same bytes wherever it is
# built. A flake only sees files that git tracks: `git add` new host files.
#
#   root     the inventory directory, normally the calling flake's ./.
#   systems  a subset of this flake's systems (default: all of them)
{
  lib,
  toolchain,
}:

{
  root,
  systems ? builtins.attrNames toolchain,
}:

let
  unknown = builtins.filter (system: !(toolchain ? ${system})) systems;
  forSystems = lib.genAttrs systems;

  network = forSystems (
    system:
    import ./network.nix {
      inherit (toolchain.${system}) pkgs parts;
      inherit root;
    }
  );

  glue = system: {
    type = "app";
    program = lib.getExe toolchain.${system}.parts.cryptic-net;
    meta.description = "cryptic-net CLI: init, new-host, renew, validate, describe, render, appdir";
  };
in
assert
  builtins.isPath root
  || throw "lib.mkNetwork: root must be a path (the inventory directory, e.g. ./.), not a ${builtins.typeOf root}";
assert
  unknown == [ ]
  || throw "lib.mkNetwork: unsupported system(s) ${toString unknown} (supported: ${toString (builtins.attrNames toolchain)})";
{
  packages = forSystems (system: network.${system}.hosts);

  # Every host AppImage is a check too (as in nix-community/disko:
  # checks = packages // tests).
  checks = forSystems (system: network.${system}.hosts // network.${system}.checks);

  apps = forSystems (system: {
    default = glue system;
    cryptic-net = glue system;
  });

  devShells = forSystems (
    system:
    let
      inherit (toolchain.${system}) pkgs parts;
    in
    {
      default = pkgs.mkShell {
        packages = [
          parts.cryptic-net
          # nebula-cert, which `init`, `new-host` and `renew` sign with.
          parts.nebula
        ];
      };
    }
  );
}
