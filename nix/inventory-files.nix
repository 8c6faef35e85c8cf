# What a host's AppImage is built from, as plain data (builtins only), so that
# nix/sources.nix turns it into a lib.fileset and tests/nix can copy exactly
# these files into an empty directory and run the per-host build there: if the
# glue ever reads a file that is not listed here, that test fails offline
# instead of the Nix build failing on a networked builder.
#
# Nothing else (README, docs, tests, Nix files) is part of a host's source, so
# editing those rebuilds no AppImage. The glue itself is a separate package
# (pkgs/cryptic-net) made from pyproject.toml and scripts/ only.
{
  # Files, relative to the repository root, that must exist.
  files = [
    "network.yml"
    "ca.crt"
  ];

  # Directories taken whole: the AppDir template. Which files it must hold is
  # said once, by the glue (`cryptic-net appdir`, TEMPLATE_REQUIRED).
  dirs = [ "appdir" ];

  # Every file under hosts/ with one of these extensions: host files, their
  # certificates and (example) keys.
  hostsDir = "hosts";
  hostExtensions = [
    "yml"
    "crt"
    "key"
  ];
}
