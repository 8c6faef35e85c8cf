# The architectures a host can declare, and how Nix learns a host's (issue 13).
#
# A host says `arch: aarch64` in hosts/<name>.yml (default x86_64; the glue's schema
# validates it like every other key). Nix must know it at evaluation time to pick the
# programs and the runtime, without parsing YAML and without import-from-derivation
# (host discovery is builtins only, nix/hosts.nix). So this file reads exactly one form: a
# top-level line `arch: <name>` (optionally quoted, optionally followed by a comment), which
# is how `cryptic-net new-host` and the README write it. A host file that puts `arch` in any
# other form (a flow mapping, an alias) is read here as the default; `cryptic-net appdir`
# then refuses to pack programs whose ELF machine is not the one the YAML says, so the build
# fails with a clear message instead of shipping the wrong architecture.
#
# Builtins only: plain `nix eval` and the offline tests (tests/nix) evaluate it.
rec {
  default = "x86_64";

  # cross: the name in nixpkgs' lib/systems/examples.nix of the package set that builds for
  #   it from another system (pkgs.pkgsCross.<cross>); read at nixpkgs 59eb55b, where
  #   `aarch64-multiplatform` is aarch64-unknown-linux-gnu and `gnu64` x86_64-unknown-linux-gnu
  #   (the same names since 2018; pkgs/top-level/stage.nix maps every example to
  #   pkgsCross.<name>). The Go programs use that set; the C programs its `pkgsStatic`
  #   (static musl for the same CPU, nix/cross.nix).
  # elfMachine: e_machine of its ELF files (elf(5)): what the `static` check expects.
  arches = {
    x86_64 = {
      system = "x86_64-linux";
      cross = "gnu64";
      elfMachine = 62; # EM_X86_64
      goarch = "amd64";
    };
    aarch64 = {
      system = "aarch64-linux";
      cross = "aarch64-multiplatform";
      elfMachine = 183; # EM_AARCH64
      goarch = "arm64";
    };
  };

  # The architecture of a nixpkgs system ("aarch64-linux" -> "aarch64"), or null.
  ofSystem =
    system:
    let
      found = builtins.filter (a: arches.${a}.system == system) (builtins.attrNames arches);
    in
    if found == [ ] then null else builtins.head found;

  # hosts/<name>.yml -> its architecture.
  ofHostFile =
    file:
    let
      lines = builtins.filter builtins.isString (builtins.split "\n" (builtins.readFile file));
      # A top-level key starts in column 0; YAML allows a quoted scalar and a comment.
      read = line: builtins.match "arch:[ \t]*[\"']?([^\"' \t#]*)[\"']?[ \t]*(#.*)?\r?" line;
      found = builtins.filter (m: m != null) (map read lines);
      value = builtins.head (builtins.head found);
    in
    if found == [ ] then
      default
    else if builtins.length found > 1 then
      throw "${toString file}: `arch` is given ${toString (builtins.length found)} times"
    else if !(arches ? ${value}) then
      throw "${toString file}: arch: '${value}' is not one of: ${toString (builtins.attrNames arches)}"
    else
      value;
}
