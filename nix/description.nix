# The network, validated once: `cryptic-net describe` over the whole inventory
# (schema, checks, every certificate) writes `$out/network.json`, the
# normalized description that every host's build renders from (nix/host.nix).
# It is also the `validate` check: an inventory with errors fails here, once,
# with every error located.
{
  stdenvNoCC,
  cryptic-net,
  inventory,
}:

stdenvNoCC.mkDerivation {
  pname = "cryptic-net-description";
  inherit (cryptic-net) version;

  src = inventory;

  # Certificates are read and verified in-process (cryptic_net.certs): no
  # nebula-cert is needed to validate.
  nativeBuildInputs = [ cryptic-net ];

  dontConfigure = true;

  buildPhase = ''
    runHook preBuild
    sh ${./build.sh} describe . "$out/network.json"
    runHook postBuild
  '';

  dontInstall = true;
  dontFixup = true;

  # Store paths of the inputs must not leak into the description: it names
  # files relative to the inventory root.
  allowedReferences = [ ];

  meta.description = "cryptic-net: the validated, normalized description of a network";
}
