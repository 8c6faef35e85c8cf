# The Python glue (`cryptic-net validate | render | appdir | init | new-host`),
# packaged from the repository's pyproject.toml. The version is defined once, in
# scripts/cryptic_net/__init__.py (pyproject.toml reads it from there too).
#
# The source is only pyproject.toml, scripts/ and appdir/ (lib.fileset), so
# editing the README, the tests or the inventory does not rebuild it, and so
# does not rebuild anything that depends on it.
{
  lib,
  python3Packages,
  graphviz,
}:

let
  root = ../..;
  pyproject = lib.importTOML (root + "/pyproject.toml");
  init = builtins.readFile (root + "/scripts/cryptic_net/__init__.py");
  versionLines = builtins.filter (
    line: builtins.isString line && builtins.match "__version__ = \"[^\"]+\"" line != null
  ) (builtins.split "\n" init);
  version = builtins.head (builtins.match "__version__ = \"([^\"]+)\"" (builtins.head versionLines));
in
python3Packages.buildPythonApplication {
  pname = pyproject.project.name;
  inherit version;
  pyproject = true;

  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/pyproject.toml")
      (root + "/scripts")
      # The AppDir template: scripts/cryptic_net/appdir-template links here, and
      # the wheel carries the files (pyproject.toml's package-data).
      (root + "/appdir")
    ];
  };

  # pyproject.toml names README.md as the long description and setuptools
  # refuses to build without that file. It is left out of the source on
  # purpose (see above); a one-line stand-in keeps the metadata valid.
  postPatch = ''
    echo ${lib.escapeShellArg pyproject.project.description} > README.md
  '';

  build-system = [ python3Packages.setuptools ];

  # pyproject.toml's run-time dependencies: cryptography and protobuf read and
  # verify nebula certificates in-process (cryptic_net.nebcert).
  dependencies = with python3Packages; [
    pyyaml
    jsonschema
    cryptography
    protobuf
  ];

  # `cryptic-net graph` draws with Graphviz's `dot` (DOT output needs nothing).
  makeWrapperArgs = [
    "--prefix"
    "PATH"
    ":"
    (lib.makeBinPath [ graphviz ])
  ];

  # The AppDir template is data that `cryptic-net appdir` copies (and gives its
  # modes); an executable AppRun here would have its `#!/bin/sh` rewritten to a
  # store path by the fixup phase's patchShebangs, and every AppImage with it.
  postInstall = ''
    chmod a-x "$out/${python3Packages.python.sitePackages}/cryptic_net/appdir-template/AppRun"
  '';

  # The test suite needs the tests/ tree and the example inventory; it runs as
  # the `pytest` flake check (nix/checks/pytest.nix) instead.
  doCheck = false;
  pythonImportsCheck = [ "cryptic_net" ];

  meta = {
    inherit (pyproject.project) description;
    license = lib.licenses.mit;
    mainProgram = "cryptic-net";
    platforms = lib.platforms.linux;
  };
}
