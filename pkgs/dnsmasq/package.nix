# Static dnsmasq: nixpkgs' own recipe (pkgs/by-name/dn/dnsmasq) built with
# pkgsStatic (musl, static libraries only), with every optional library
# switched off. Call this with `pkgsStatic.callPackage`.
#
# Why this and not the seed's `make LDFLAGS=-static` against glibc:
# - glibc's static getpwnam/getgrnam/getaddrinfo go through NSS and want the
#   shared libraries of the very glibc they were built with at run time (the
#   linker says so; docs/nix.md, "A static dnsmasq").
#   dnsmasq always looks its user up, even with `no-daemon`. musl reads
#   /etc/passwd and /etc/group itself: nothing is loaded at run time.
# - a static glibc carries paths into its own store directory (locale, gconv,
#   NSS module search path); musl does not, and the AppImage must not mention
#   /nix/store at all (the `static` flake check).
# - dnsmasq ships on musl every day (Alpine), so this is a well-trodden build.
#
# What is turned off, and why nothing is lost: nixpkgs compiles in IDN, DNSSEC,
# DBus, conntrack and nftset. cryptic-net's dnsmasq only answers A records for
# the overlay hosts from a hosts file (`local=/<domain>/`, `no-resolv`), so it
# uses none of them, and each would drag a static library chain (libidn,
# nettle, dbus, libnetfilter_conntrack, nftables) into the build for nothing.
# dnsmasq's own defaults (src/config.h) remain, as in the seed's build.
#
# Tried offline (no Nix): dnsmasq 2.90 (Debian's orig tarball, identical to
# upstream's) with this recipe's postPatch, built by Debian's musl-gcc with the
# default options and LDFLAGS=-static, is a 0.5 MB executable with no ELF
# interpreter and no dynamic section; it passes `--test` on the rendered
# config and answers the overlay names (and NXDOMAIN for unknown ones).
{
  dnsmasq,
}:

(dnsmasq.override { dbusSupport = false; }).overrideAttrs (old: {
  # pname stays nixpkgs' "dnsmasq": under pkgsStatic, mkDerivation itself
  # appends "-static" to a name made from pname and version (stdenvStaticMarker
  # in pkgs/stdenv/generic/make-derivation.nix), so the package is named
  # dnsmasq-static-<version>; a pname of "dnsmasq-static" would give
  # dnsmasq-static-static-<version>.

  # Replaces nixpkgs' `COPTS=-DHAVE_IDN -DHAVE_DNSSEC ...`: build with dnsmasq's
  # compiled-in defaults only.
  preBuild = "";
  buildInputs = [ ];

  # The DHCP lease tools are not shipped in the AppImage; nixpkgs builds and
  # installs them in postBuild/postInstall.
  postBuild = "";
  postInstall = "";

  meta = old.meta // {
    description = "dnsmasq, statically linked against musl, no optional libraries";
    platforms = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };
})
