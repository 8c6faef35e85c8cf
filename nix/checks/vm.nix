# End to end, in NixOS VMs (testers.runNixOSTest), modelled on nixpkgs'
# nixos/tests/nebula/connectivity.nix: a lighthouse and two hosts on one
# underlay network, each running nothing but its own AppImage from the store
# (no nebula, dnsmasq or FUSE package installed on the machines).
#
#   - overlay ping both ways (alpha <-> beta, through lighthouse discovery);
#   - every name resolves on every host (each host's own dnsmasq);
#   - beta's nebula firewall: tcp 80 from group laptop passes, tcp 22 from
#     alpha is dropped (while 22 is open on the underlay);
#   - nebula killed with SIGKILL is back within 5 s (pmux restarts it);
#   - SIGTERM to the AppImage leaves no process, mount or tun device behind.
#
# Addresses come from the example inventory (network.yml, hosts/*.yml): the
# lighthouse's underlay endpoint 192.0.2.1:4242 is baked into every host.
# x86_64-linux only: the AppImages exist only there (pkgs/appimagetool).
{
  lib,
  pkgs,
  hosts,
  ...
}:

let
  domain = "example.internal";
  tun = "cn-example";

  members = {
    lighthouse = {
      overlay = "10.42.0.1";
      underlay = "192.0.2.1";
    };
    alpha = {
      overlay = "10.42.0.2";
      underlay = "192.0.2.2";
    };
    beta = {
      overlay = "10.42.0.3";
      underlay = "192.0.2.3";
    };
  };

  haveAll = lib.all (name: hosts ? "host-${name}") (builtins.attrNames members);

  node =
    name: extra:
    lib.mkMerge [
      {
        networking.interfaces.eth1 = {
          useDHCP = false;
          ipv4.addresses = lib.mkForce [
            {
              address = members.${name}.underlay;
              prefixLength = 24;
            }
          ];
        };
        # Only nebula's own firewall is under test.
        networking.firewall.enable = false;
        boot.kernelModules = [
          "fuse"
          "tun"
        ];
        environment.systemPackages = [
          pkgs.dig
          pkgs.netcat
          pkgs.procps
        ];
      }
      extra
    ];

  image = name: lib.getExe hosts."host-${name}";
in
lib.optionalAttrs (pkgs.stdenv.hostPlatform.system == "x86_64-linux" && haveAll) {
  vm = pkgs.testers.runNixOSTest {
    name = "cryptic-net";

    nodes = {
      lighthouse = node "lighthouse" { };
      alpha = node "alpha" { };
      beta = node "beta" {
        # Something to reach (or not) across the overlay: tcp 22 and tcp 80.
        services.openssh.enable = true;
        systemd.services.web = {
          wantedBy = [ "multi-user.target" ];
          serviceConfig.ExecStart = "${lib.getExe pkgs.python3} -m http.server 80";
        };
      };
    };

    testScript = ''
      members = ${builtins.toJSON members}
      images = ${builtins.toJSON (lib.genAttrs (builtins.attrNames members) image)}
      machines = {"lighthouse": lighthouse, "alpha": alpha, "beta": beta}
      domain = "${domain}"
      tun = "${tun}"

      start_all()
      for name, m in machines.items():
          m.wait_for_unit("multi-user.target")
          # KillMode=process: systemd signals only the AppImage and leaves
          # whatever it does not stop behind, for the last subtest to find.
          # AppRun uses the machine's sh, flock and coreutils, as on any host.
          m.succeed(
              "systemd-run --unit=cryptic-net --property=KillMode=process"
              + " --setenv=PATH=/run/wrappers/bin:/run/current-system/sw/bin "
              + images[name]
          )

      for name, m in machines.items():
          ip = members[name]["overlay"]
          m.wait_until_succeeds(f"ip -4 addr show dev {tun} | grep -qF ' {ip}/'", timeout=60)

      with subtest("overlay ping both ways"):
          alpha.wait_until_succeeds("ping -c1 -W1 " + members["beta"]["overlay"], timeout=60)
          beta.wait_until_succeeds("ping -c1 -W1 " + members["alpha"]["overlay"], timeout=60)
          for name, m in machines.items():
              for other in members:
                  m.wait_until_succeeds("ping -c1 -W1 " + members[other]["overlay"], timeout=60)

      with subtest("every name resolves on every host"):
          for name, m in machines.items():
              server = members[name]["overlay"]
              for other, addrs in members.items():
                  m.wait_until_succeeds(
                      f"dig +short @{server} {other}.{domain} A | grep -qxF {addrs['overlay']}",
                      timeout=30,
                  )
              m.succeed(f"dig +short @{server} www.{domain} A | grep -qxF " + members["beta"]["overlay"])
              m.succeed(f"dig @{server} no-such-host.{domain} A | grep -qF 'status: NXDOMAIN'")

      with subtest("beta's nebula firewall: tcp 80 from laptop passes, tcp 22 is dropped"):
          beta.wait_for_open_port(80)
          beta.wait_for_open_port(22)
          beta_overlay = members["beta"]["overlay"]
          alpha.succeed(f"nc -z -w 5 {beta_overlay} 80")
          alpha.fail(f"nc -z -w 5 {beta_overlay} 22")
          # The drop is nebula's: the same port is open on the underlay.
          alpha.succeed("nc -z -w 5 " + members["beta"]["underlay"] + " 22")

      with subtest("nebula killed is back within 5 s"):
          old = alpha.succeed("pgrep -x nebula").strip()
          alpha.succeed("pkill -KILL -x nebula")
          alpha.succeed(
              "timeout 5 sh -c 'until p=$(pgrep -x nebula) && [ \"$p\" != " + old + " ]; do sleep 0.1; done'"
          )
          alpha.wait_until_succeeds("ping -c1 -W1 " + members["beta"]["overlay"], timeout=60)

      with subtest("SIGTERM leaves nothing behind"):
          for name, m in machines.items():
              pid = m.succeed("systemctl show --property=MainPID --value cryptic-net").strip()
              m.succeed(f"kill -TERM {pid}")
              m.succeed(f"timeout 20 tail --pid={pid} -f /dev/null")
              m.fail("pgrep -x 'nebula|dnsmasq|pmux'")
              m.wait_until_fails("grep -qF ' /tmp/.mount_' /proc/mounts", timeout=5)
              m.fail(f"ip link show {tun}")
    '';
  };
}
