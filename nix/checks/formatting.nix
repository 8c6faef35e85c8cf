# Every Nix file is formatted with nixfmt (the flake's `formatter`; run
# `nix fmt` to fix).
{
  pkgs,
  sources,
  ...
}:

{
  formatting =
    pkgs.runCommand "cryptic-net-formatting"
      {
        nativeBuildInputs = [ pkgs.nixfmt ];
      }
      ''
        cd ${sources.nix}
        find . -name '*.nix' -type f -print0 | sort -z | xargs -0 nixfmt --check
        touch $out
      '';
}
