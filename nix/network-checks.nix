# Every host's rendered configuration is accepted by the binaries that will
# run it: `nebula -test` and `dnsmasq --test`, the static builds. Rendered
# directly with the glue (no AppImage), so this runs wherever the static
# binaries build, aarch64-linux included.
{
  lib,
  pkgs,
  parts,
  sources,
  ...
}:

let
  hostNames = builtins.attrNames (import ../../hosts { buildHost = host: host; });
in
{
  configs =
    pkgs.runCommand "cryptic-net-configs"
      {
        nativeBuildInputs = [
          parts.cryptic-net
          parts.nebula
          parts.dnsmasq
        ];
      }
      ''
        for host in ${lib.escapeShellArgs (map (lib.removePrefix "host-") hostNames)}; do
          echo "== $host"
          cryptic-net render "$host" --root ${sources.inventory} --out "rendered-$host"
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
