# Source sets, with lib.fileset, so that a derivation only sees (and only
# rebuilds for) the files it needs.
{ lib }:

let
  fs = lib.fileset;
  repo = ../.;
  spec = import ./inventory-files.nix;

  hasExt = exts: name: lib.any (ext: lib.hasSuffix ".${ext}" name) exts;

  # The inventory files under `root` (nix/inventory-files.nix says which).
  # Root-level files are listed with builtins.readDir (not a recursive filter),
  # so that certificates elsewhere in the tree (test fixtures) are not part of
  # any network.
  inventoryFiles =
    root:
    let
      top = builtins.readDir root;
      optional = builtins.filter (path: builtins.pathExists (root + "/${path}")) spec.optionalFiles;
      isRootFile = name: top.${name} == "regular" && hasExt spec.rootExtensions name;
      rootFiles = builtins.filter isRootFile (builtins.attrNames top);
      hostsDir = root + "/${spec.hostsDir}";
      hostFiles = fs.fileFilter (file: lib.any file.hasExt spec.hostExtensions) hostsDir;
    in
    fs.unions (
      map (path: root + "/${path}") (spec.files ++ optional ++ rootFiles)
      # Right after `nix flake init` there is no hosts/ yet.
      ++ lib.optional (builtins.pathExists hostsDir) hostFiles
    );
in
{
  # Input of the network's description and of every host AppImage.
  inventory =
    root:
    assert
      builtins.pathExists (root + "/network.yml")
      || throw "cryptic-net: ${toString root} has no network.yml yet: run `cryptic-net init` (in `nix develop`) and `git add` what it writes";
    fs.toSource {
      inherit root;
      fileset = inventoryFiles root;
    };

  # Input of the pytest check: the glue, its tests and the example inventory.
  tests = fs.toSource {
    root = repo;
    fileset = fs.unions [
      (inventoryFiles repo)
      (repo + "/appdir")
      (repo + "/pyproject.toml")
      (repo + "/scripts")
      (repo + "/tests")
    ];
  };

  # Every Nix file, for the formatting check.
  nix = fs.toSource {
    root = repo;
    fileset = fs.fileFilter (file: file.hasExt "nix") repo;
  };
}
