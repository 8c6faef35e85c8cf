{
  description = "cryptic-net: one static, self-contained AppImage per host of a small nebula overlay network";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    # The seed gets appimagetool from nix-bundle at this revision
    # (pkgs/appimagetool says what had to be repaired).
    nix-bundle = {
      url = "github:matthewbauer/nix-bundle/223f4ffc4179aa318c34dc873a08cb00090db829";
      flake = false;
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      nix-bundle,
    }:
    let
      inherit (nixpkgs) lib;

      # aarch64-linux gets the static binaries, the runtime, the glue and the
      # checks that need no AppImage; it has no appimagetool (only an x86_64
      # release is pinned), hence no host-* package, no `static`,
      # `deterministic` or VM check there.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = lib.genAttrs systems;

      perSystem = forAllSystems (
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          built = import ./nix/packages.nix { inherit pkgs nix-bundle; };
        in
        built
        // {
          inherit pkgs;
          checks = import ./nix/checks {
            inherit lib pkgs;
            inherit (built) parts hosts sources;
          };
        }
      );
    in
    {
      packages = forAllSystems (
        system:
        let
          inherit (perSystem.${system}) parts hosts;
        in
        parts
        // hosts
        // lib.optionalAttrs (hosts ? host-alpha) { default = hosts.host-alpha; }
      );

      apps = forAllSystems (
        system:
        let
          glue = {
            type = "app";
            program = lib.getExe self.packages.${system}.cryptic-net;
            meta.description = "cryptic-net CLI: validate, render, appdir, init, new-host";
          };
        in
        {
          default = glue;
          cryptic-net = glue;
        }
      );

      devShells = forAllSystems (
        system:
        let
          inherit (perSystem.${system}) pkgs parts;
        in
        {
          default = pkgs.mkShell {
            packages = [
              (pkgs.python3.withPackages (ps: [
                ps.pyyaml
                ps.jsonschema
                ps.pytest
                ps.hypothesis
              ]))
              parts.nebula
              parts.dnsmasq
              parts.pmux
              pkgs.squashfsTools
              pkgs.nixfmt
            ];
            # The test suite uses the real pmux when this is set.
            CRYPTIC_NET_PMUX = lib.getExe parts.pmux;
          };
        }
      );

      formatter = forAllSystems (system: perSystem.${system}.pkgs.nixfmt-tree);

      # Every host AppImage is a check too (as in nix-community/disko:
      # checks = packages // tests).
      checks = forAllSystems (system: perSystem.${system}.hosts // perSystem.${system}.checks);
    };
}
