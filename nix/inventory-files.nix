# What a network's AppImages are built from, as plain data (builtins only), so
# that nix/sources.nix turns it into a lib.fileset and tests/nix can copy
# exactly these files into an empty directory and run the build there: if the
# glue ever reads a file that is not listed here, that test fails offline
# instead of the Nix build failing on a networked builder.
#
# Defined once, in the glue package's inventory-files.json, which the glue's
# secret scan and untracked-file warning read too (cryptic_net.sourceset):
#   files           must exist (network.yml);
#   optionalFiles   taken when they exist (policy.yml: the policy tests;
#                   revoked.yml: every host's blocklist);
#   rootExtensions  files directly in the root (the CA certificates);
#   hostsDir, hostExtensions: every file under hosts/ with those extensions.
#
# Nothing else (README, docs, tests, Nix files) is part of the source, so
# editing those rebuilds no AppImage. The glue itself, with the AppDir template
# (appdir/), is a separate package (pkgs/cryptic-net).
builtins.removeAttrs (builtins.fromJSON (
  builtins.readFile ../scripts/cryptic_net/inventory-files.json
)) [ "_comment" ]
