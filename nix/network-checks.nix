# The checks of one network (nix/network.nix), on every system:
#
#   validate  the network's description (nix/description.nix): the whole
#             inventory validated once, every error located.
#   configs   every host's rendered configuration is accepted by the binaries
#             that will run it: `nebula -test` and `dnsmasq --test`, the static
#             builds. Rendered from the description with the glue (no
#             AppImage), so this runs wherever the static binaries build,
#             aarch64-linux included.
{
  lib,
  runCommand,
  parts,
  inventory,
  description,
  hostNames,
}:

{
  validate = description;

  configs =
    runCommand "cryptic-net-configs"
      {
        nativeBuildInputs = [
          parts.cryptic-net
          parts.nebula
          parts.dnsmasq
        ];
      }
      ''
        for host in ${lib.escapeShellArgs hostNames}; do
          echo "== $host"
          cryptic-net render "$host" --root ${inventory} \
            --description ${description}/network.json --out "rendered-$host"
          (
            # nebula resolves pki paths against its working directory, and
            # pmux starts both programs in the AppDir root: do the same.
            cd "rendered-$host"
            nebula -test -config etc/nebula/nebula.yml
            dnsmasq --test --conf-file=etc/dnsmasq/dnsmasq.conf
          )
        done
        touch $out
      '';
}
