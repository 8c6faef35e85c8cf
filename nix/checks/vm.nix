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
#   - alpha under the shipped systemd units (contrib/systemd: FUSE mount, and an
#     AppDir extracted once into /opt): up, reaching beta, stopped clean; this
#     proves that their sandboxing keeps tun, FUSE and port 53 working;
#   - our type-2 runtime's extract-and-run (pkgs/appimage-runtime's patch):
#     a directory pre-created by an unprivileged user under the old predictable
#     name, with symlinks to a directory of theirs, is not used and gets nothing
#     written through it; the extraction directory is 0700 root with an
#     unpredictable name; SIGTERM to the runtime reaches pmux, stops nebula and
#     dnsmasq and removes the extraction directory (docs/security.md);
#   - SIGTERM to the AppImage leaves no process, mount or tun device behind.
#
# The AppImages carry their host keys, so AppRun refuses to run them from the
# world-readable store: each machine runs a copy installed with mode 0700, as
# the README says to.
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
        systemd.packages = [ units ];
      }
      extra
    ];

  image = name: lib.getExe hosts."host-${name}";

  # contrib/systemd's units as a package, so that NixOS links them like any other.
  units = pkgs.runCommand "cryptic-net-units" { } ''
    install -D -m 0644 -t "$out/lib/systemd/system" ${../../contrib/systemd}/*.service
  '';
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
          installed = f"/usr/local/bin/cryptic-net-{name}"
          m.succeed(f"install -D -m 0700 {images[name]} {installed}")
          # KillMode=process: systemd signals only the AppImage and leaves
          # whatever it does not stop behind, for the last subtest to find.
          # AppRun uses the machine's sh, find, flock and coreutils from its
          # own PATH, which includes NixOS's /run/current-system/sw/bin.
          m.succeed(f"systemd-run --unit=cryptic-net --property=KillMode=process {installed}")

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

      nothing_left = "pgrep -x 'nebula|dnsmasq|pmux'"
      beta_overlay = members["beta"]["overlay"]

      with subtest("alpha under the shipped systemd units: up, reaching beta, stopped clean"):
          alpha.succeed("systemctl stop cryptic-net")
          alpha.fail(nothing_left)
          alpha.succeed("systemctl start cryptic-net@alpha")
          alpha.wait_until_succeeds(f"ping -c1 -W1 {beta_overlay}", timeout=60)
          alpha.succeed("systemctl stop cryptic-net@alpha")
          alpha.fail(nothing_left)
          alpha.fail(f"ip link show {tun}")
          # Without FUSE: extracted once, as root, into a directory only root can write.
          alpha.succeed(
              "install -d -m 0755 /opt/cryptic-net && cd /opt/cryptic-net"
              + " && /usr/local/bin/cryptic-net-alpha --appimage-extract >/dev/null"
              + " && mv squashfs-root alpha"
          )
          alpha.succeed("systemctl start cryptic-net-extracted@alpha")
          alpha.wait_until_succeeds(f"ping -c1 -W1 {beta_overlay}", timeout=60)
          alpha.succeed("systemctl stop cryptic-net-extracted@alpha")
          alpha.fail(nothing_left)
          # AppRun refuses an extracted tree that someone else can change.
          alpha.succeed("chown 65534 /opt/cryptic-net/alpha/etc")
          alpha.succeed("/opt/cryptic-net/alpha/AppRun run; test $? -eq 9")
          alpha.fail(nothing_left)

      img = "/usr/local/bin/cryptic-net-alpha"
      with subtest("extract-and-run ignores a directory pre-created by another user"):
          md5 = alpha.succeed(f"md5sum {img} | cut -d' ' -f1").strip()
          planted = f"/tmp/appimage_extracted_{md5}"
          alpha.succeed(
              "setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c '"
              + f"mkdir -m 0777 /tmp/loot {planted} && ln -s /tmp/loot {planted}/etc"
              + f" && ln -s /tmp/loot {planted}/bin'"
          )
          out = alpha.succeed(f"TMPDIR=/tmp {img} --appimage-extract-and-run version")
          assert "host alpha" in out, out
          alpha.fail("find /tmp/loot -mindepth 1 | grep -q .")
          alpha.fail(f"find {planted} -user root | grep -q .")

      with subtest("extract-and-run: a private directory, and SIGTERM reaches pmux"):
          alpha.succeed(
              "systemd-run --unit=cn-extract --property=KillMode=process --setenv=TMPDIR=/tmp "
              + f"{img} --appimage-extract-and-run"
          )
          alpha.wait_until_succeeds("pgrep -x nebula && pgrep -x dnsmasq", timeout=30)
          mode = alpha.succeed("stat -c '%a %U' /tmp/appimage_extracted_??????").strip()
          assert mode == "700 root", mode
          alpha.wait_until_succeeds(f"ping -c1 -W1 {beta_overlay}", timeout=60)
          pid = alpha.succeed("systemctl show --property=MainPID --value cn-extract").strip()
          alpha.succeed(f"kill -TERM {pid}")
          alpha.succeed(f"timeout 20 tail --pid={pid} -f /dev/null")
          alpha.fail(nothing_left)
          alpha.fail("ls -d /tmp/appimage_extracted_??????")
          alpha.fail(f"ip link show {tun}")

      with subtest("SIGTERM leaves nothing behind"):
          for name, m in machines.items():
              if name == "alpha":
                  continue  # stopped above, in every way it can run
              pid = m.succeed("systemctl show --property=MainPID --value cryptic-net").strip()
              m.succeed(f"kill -TERM {pid}")
              m.succeed(f"timeout 20 tail --pid={pid} -f /dev/null")
              m.fail(nothing_left)
              m.wait_until_fails("grep -qF ' /tmp/.mount_' /proc/mounts", timeout=5)
              m.fail(f"ip link show {tun}")
    '';
  };
}
