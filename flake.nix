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

      # Per system: nixpkgs, the static binaries, the AppImage tools, the glue.
      toolchain = forAllSystems (
        system:
        import ./nix/packages.nix {
          pkgs = nixpkgs.legacyPackages.${system};
          inherit nix-bundle;
        }
      );

      # The example network in this repository, built the way any other
      # network is: with lib.mkNetwork.
      example = self.lib.mkNetwork { root = ./.; };
    in
    {
      lib.mkNetwork = import ./nix/mk-network.nix { inherit lib toolchain; };

      templates.default = {
        path = ./templates/default;
        description = "A cryptic-net network of your own: an inventory whose flake uses lib.mkNetwork";
        welcomeText = ''
          A cryptic-net network: next, `nix develop`, then `cryptic-net init`
          and `cryptic-net new-host` (README.md says how), `git add`, and
          `nix build .#host-NAME`.
        '';
      };

      packages = forAllSystems (
        system:
        let
          hosts = example.packages.${system};
          default = lib.optionalAttrs (hosts ? host-alpha) { default = hosts.host-alpha; };
        in
        toolchain.${system}.available // hosts // default
      );

      inherit (example) apps;

      devShells = forAllSystems (
        system:
        let
          inherit (toolchain.${system}) pkgs parts;
        in
        {
          default = pkgs.mkShell {
            packages = [
              (pkgs.python3.withPackages (ps: [
                ps.pyyaml
                ps.jsonschema
                ps.cryptography
                ps.protobuf
                ps.pytest
                ps.hypothesis
              ]))
              parts.nebula
              parts.dnsmasq
              parts.pmux
              pkgs.squashfsTools
              pkgs.graphviz
              pkgs.nixfmt
            ];
            # The test suite uses the real pmux when this is set.
            CRYPTIC_NET_PMUX = lib.getExe parts.pmux;
          };
        }
      );

      formatter = forAllSystems (system: toolchain.${system}.pkgs.nixfmt-tree);

      # The example network's checks (every host, validate, configs) and the
      # project's own (nix/checks).
      checks = forAllSystems (
        system:
        let
          project = import ./nix/checks {
            inherit lib;
            inherit (toolchain.${system}) pkgs;
            parts = toolchain.${system}.available;
            hosts = example.packages.${system};
            sources = import ./nix/sources.nix { inherit lib; };
          };
        in
        example.checks.${system} // project
      );
    };
}
