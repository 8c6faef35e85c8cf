# What a network's AppImages are built from, as plain data (builtins only), so
# that nix/sources.nix turns it into a lib.fileset and tests/nix can copy
# exactly these files into an empty directory and run the build there: if the
# glue ever reads a file that is not listed here, that test fails offline
# instead of the Nix build failing on a networked builder.
#
# Nothing else (README, docs, tests, Nix files) is part of the source, so
# editing those rebuilds no AppImage. The glue itself, with the AppDir template
# (appdir/), is a separate package (pkgs/cryptic-net).
{
  # Files, relative to the inventory root, that must exist.
  files = [ "network.yml" ];

  # Files taken when they exist: the policy tests that `validate` (so `describe`)
  # holds the firewall rules to (cryptic_net.policy.POLICY_FILE), and the revoked
  # certificates every host's nebula refuses (cryptic_net.revocation.REVOKED_FILE).
  optionalFiles = [
    "policy.yml"
    "revoked.yml"
  ];

  # Files directly in the root with one of these extensions: the network CA
  # certificate (`cryptic-net init` writes ca.crt; network.yml may name another).
  rootExtensions = [ "crt" ];

  # Every file under hosts/ with one of these extensions: host files, their
  # certificates and (example) keys.
  hostsDir = "hosts";
  hostExtensions = [
    "yml"
    "crt"
    "key"
  ];
}
