# The per-host builder: host name -> its AppImage, `$out/bin/cryptic-net-<host>`
# (so `nix run .#host-<host>` works too). nix/hosts.nix calls it once per
# hosts/<host>.yml. The steps are nix/build.sh, which the offline tests run as
# well: render from the network's description (validated once, by
# nix/description.nix), then pack.
{
  lib,
  stdenvNoCC,
  cryptic-net,
  nebula,
  dnsmasq,
  pmux,
  appimagetool,
  appimage-runtime,
  inventory,
  description,
  # The host's architecture (nix/arch.nix): nebula, dnsmasq, pmux and the runtime above are
  # built for it (nix/cross.nix); appimagetool packs for it whatever the builder's.
  arch ? "x86_64",
}:

host:

stdenvNoCC.mkDerivation {
  pname = "cryptic-net-${host}";
  inherit (cryptic-net) version;

  src = inventory;

  nativeBuildInputs = [
    cryptic-net
    appimagetool
  ];

  dontConfigure = true;

  buildPhase = ''
    runHook preBuild

    mkdir static-bin
    install -m755 -t static-bin \
      ${lib.getExe' nebula "nebula"} \
      ${lib.getExe' nebula "nebula-cert"} \
      ${lib.getExe' dnsmasq "dnsmasq"} \
      ${lib.getExe' pmux "pmux"}

    CRYPTIC_NET_ARCH=${arch} sh ${./build.sh} host ${lib.escapeShellArg host} . ${description}/network.json static-bin \
      ${appimage-runtime}/runtime "$out/bin/cryptic-net-${host}"

    runHook postBuild
  '';

  dontInstall = true;

  # The AppImage is finished by appimagetool: no strip, no patchelf (either
  # would corrupt the squashfs appended to the runtime).
  dontFixup = true;

  # Requirement 2 of the seed, enforced by Nix itself: the output may not
  # refer to any store path. (The `static` check also looks inside the
  # compressed image, which this scan cannot.)
  allowedReferences = [ ];

  passthru = { inherit host description arch; };

  meta = {
    description = "cryptic-net for host ${host} (${arch}): nebula, dnsmasq and pmux with its configuration, in one static AppImage";
    mainProgram = "cryptic-net-${host}";
    # appimagetool (a prebuilt release) exists for x86_64 only.
    inherit (appimagetool.meta) platforms;
  };
}
