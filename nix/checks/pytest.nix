# The pytest suite, inside Nix, minus the tests that need root, nix or real
# AppImages (the same selection `tests/run` makes on a machine without them).
# The glue under test is the packaged one; the static nebula, nebula-cert,
# dnsmasq and pmux stand in for Debian's. The lint tests (tests/unit/test_lint.py)
# are left to tests/run, which pins ruff and mypy in the `lint` extra: nixpkgs'
# versions differ, and a lint rule added upstream must not fail a build.
{
  pkgs,
  parts,
  sources,
  ...
}:

let
  python = pkgs.python3.withPackages (ps: [
    ps.pytest
    ps.hypothesis
    ps.pyyaml
    ps.jsonschema
    ps.cryptography
    ps.protobuf
  ]);
in
{
  pytest =
    pkgs.runCommand "cryptic-net-pytest"
      {
        nativeBuildInputs = [
          python
          parts.cryptic-net
          parts.nebula
          parts.dnsmasq
          parts.pmux
          pkgs.squashfsTools
          pkgs.graphviz
        ];
        CRYPTIC_NET_PMUX = pkgs.lib.getExe parts.pmux;
      }
      ''
        cp -r ${sources.tests} src
        chmod -R u+w src
        cd src
        export HOME=$TMPDIR
        export PYTHONPATH=${parts.cryptic-net}/${pkgs.python3.sitePackages}
        python -m pytest -p no:cacheprovider -m "not root and not nix and not integration" \
          --ignore=tests/unit/test_lint.py tests
        touch $out
      '';
}
