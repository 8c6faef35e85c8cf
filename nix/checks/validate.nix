# `cryptic-net validate` over the committed inventory.
{
  pkgs,
  parts,
  sources,
  ...
}:

{
  validate =
    pkgs.runCommand "cryptic-net-validate"
      {
        nativeBuildInputs = [
          parts.cryptic-net
          parts.nebula
        ];
      }
      ''
        cryptic-net validate --root ${sources.inventory}
        touch $out
      '';
}
