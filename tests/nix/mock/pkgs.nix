# Stand-ins for the nixpkgs attributes the flake uses (see README.md).
{
  lib,
  system,
  static ? false,
  # The system the builds run on; differs from `system` in pkgsCross.<name>.
  buildSystem ? system,
}:

let
  inherit (builtins)
    attrNames
    filter
    functionArgs
    intersectAttrs
    isFunction
    ;

  platform = {
    inherit system;
    isLinux = true;
    isStatic = static;
  };
  cross = system != buildSystem;

  # nixpkgs' knownHardeningFlags (pkgs/stdenv/generic/make-derivation.nix, the
  # version after NixOS/nixpkgs#442510 and #449771 removed "pie"): any other
  # flag aborts the evaluation there, so it throws here.
  knownHardeningFlags = [
    "bindnow"
    "format"
    "fortify"
    "fortify3"
    "strictflexarrays1"
    "strictflexarrays3"
    "shadowstack"
    "nostrictaliasing"
    "pacret"
    "pic"
    "relro"
    "stackprotector"
    "glibcxxassertions"
    "libcxxhardeningfast"
    "libcxxhardeningextensive"
    "stackclashprotection"
    "strictoverflow"
    "trivialautovarinit"
    "zerocallusedregs"
  ];
  checkHardening =
    attrs:
    let
      given = (attrs.hardeningEnable or [ ]) ++ (attrs.hardeningDisable or [ ]);
      unknown = filter (flag: flag != "all" && !(builtins.elem flag knownHardeningFlags)) given;
    in
    if unknown != [ ] then
      throw "mkDerivation was called with unsupported hardening flags: ${toString unknown}"
    else
      attrs;

  # mkDerivation: an attribute set that looks enough like a derivation, keeps
  # its arguments (drvAttrs) and supports overrideAttrs with either an
  # attribute set, `prev: { ... }` or `final: prev: { ... }`. As nixpkgs'
  # (stdenvStaticMarker), a static build appends "-static" to pname.
  mkDerivation =
    argsOrFn:
    let
      attrs = checkHardening (if isFunction argsOrFn then argsOrFn attrs else argsOrFn);
      name =
        attrs.name or (
          if attrs ? pname && attrs ? version then
            "${attrs.pname}${if static then "-static" else ""}-${attrs.version}"
          else
            throw "mkDerivation: neither name nor pname and version"
        );
    in
    # Like a real derivation: its arguments are attributes of it too.
    removeAttrs attrs [ "passthru" ]
    // (attrs.passthru or { })
    // {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/00000000000000000000000000000000-${
        if cross then "${system}-" else ""
      }${name}";
      # Which system it runs on (the mock's stand-in for stdenv.hostPlatform).
      hostSystem = system;
      drvAttrs = attrs;
      meta = attrs.meta or { };
      isStatic = static;
      overrideAttrs =
        f:
        let
          once = if isFunction f then f attrs else f;
          change = if isFunction once then once attrs else once;
        in
        mkDerivation (attrs // change);
    };

  # Like nixpkgs' makeOverridable: `override` takes only the arguments the
  # recipe declares (an unknown one is an error, as calling the function with
  # it is), and lib.functionArgs sees them (nixpkgs: lib.mirrorFunctionArgs).
  makeOverridable =
    f: args:
    f args
    // {
      override = {
        __functor = _: more: makeOverridable f (args // more);
        __functionArgs = functionArgs f;
      };
    };

  # Like nixpkgs' callPackage: fills arguments from pkgs, fails on a required
  # argument that neither pkgs nor the caller supplies.
  callPackage =
    fn: args:
    let
      f = if isFunction fn then fn else import fn;
      wanted = functionArgs f;
      auto = intersectAttrs wanted pkgs;
      missing = filter (arg: !wanted.${arg} && !(auto ? ${arg}) && !(args ? ${arg})) (attrNames wanted);
    in
    if missing != [ ] then
      throw "callPackage: no value for required argument(s) ${toString missing}"
    else
      f (auto // args);

  simple =
    name:
    mkDerivation {
      inherit name;
      meta.mainProgram = name;
    };

  stdenv = {
    inherit mkDerivation;
    hostPlatform = platform;
    buildPlatform = platform // {
      system = buildSystem;
    };
    cc.libc = simple "glibc" // {
      out = simple "glibc";
    };
  };

  requireHash =
    what: args:
    if !(args ? hash) then
      throw "${what}: give an SRI `hash`"
    else if builtins.match "sha256-[A-Za-z0-9+/]{43}=" args.hash == null then
      throw "${what}: not an SRI sha256: ${args.hash}"
    else
      args;

  python3Packages = {
    python.sitePackages = "lib/python3.13/site-packages";
    buildPythonApplication =
      args:
      if !(args.pyproject or false) then
        throw "buildPythonApplication: set pyproject = true"
      else if !(args ? build-system) then
        throw "buildPythonApplication: no build-system"
      else
        mkDerivation args;
    setuptools = simple "setuptools";
    pyyaml = simple "pyyaml";
    jsonschema = simple "jsonschema";
    cryptography = simple "cryptography";
    protobuf = simple "protobuf";
    pytest = simple "pytest";
    hypothesis = simple "hypothesis";
    mypy = simple "mypy";
    types-pyyaml = simple "types-pyyaml";
    types-jsonschema = simple "types-jsonschema";
  };

  pkgs = {
    inherit
      lib
      stdenv
      callPackage
      python3Packages
      ;
    stdenvNoCC = stdenv;
    runtimeShell = "/nix/store/00000000000000000000000000000000-bash/bin/bash";
    pkgsStatic = import ./pkgs.nix {
      inherit lib system buildSystem;
      static = true;
    };
    # The two cross sets nix/cross.nix uses, by their names in nixpkgs'
    # lib/systems/examples.nix (aarch64-multiplatform: aarch64-unknown-linux-gnu;
    # gnu64: x86_64-unknown-linux-gnu); each has its own pkgsStatic.
    pkgsCross = {
      aarch64-multiplatform = import ./pkgs.nix {
        inherit lib;
        system = "aarch64-linux";
        buildSystem = system;
      };
      gnu64 = import ./pkgs.nix {
        inherit lib;
        system = "x86_64-linux";
        buildSystem = system;
      };
    };

    buildGoModule =
      args:
      if args ? vendorSha256 then
        throw "buildGoModule: Expect vendorHash instead of vendorSha256"
      else if !(args ? vendorHash) then
        throw "buildGoModule: vendorHash is missing"
      else
        mkDerivation args;

    fetchFromGitHub =
      args:
      if !(args ? owner && args ? repo && (args ? rev || args ? tag)) then
        throw "fetchFromGitHub: owner, repo and rev or tag"
      else
        mkDerivation (requireHash "fetchFromGitHub" args // { name = "source"; });
    fetchurl =
      args:
      if !(args ? url || args ? urls) then
        throw "fetchurl: url or urls"
      else
        mkDerivation (requireHash "fetchurl" args // { name = "download"; });

    runCommand =
      name: env: buildCommand:
      mkDerivation (env // { inherit name buildCommand; });
    mkShell = args: mkDerivation (args // { name = "shell"; });
    testers.runNixOSTest =
      args:
      mkDerivation {
        name = "vm-test-run-${args.name}";
        inherit (args) testScript;
        nodes = builtins.toJSON (builtins.mapAttrs (_: node: node) args.nodes);
      };

    python3 = simple "python3" // {
      withPackages = f: simple "python3-env" // { packages = map (p: p.name) (f python3Packages); };
      sitePackages = "lib/python3.13/site-packages";
      pkgs = python3Packages;
    };

    # nixpkgs' recipes the flake overrides, reduced to the arguments it
    # overrides (names as in pkgs/by-name/{ne/nebula,dn/dnsmasq,sq/squashfuse}).
    nebula = makeOverridable (
      {
        withPkcs11 ? true,
      }:
      pkgs.buildGoModule {
        pname = "nebula";
        version = "1.10.3";
        vendorHash = null;
        env = lib.optionalAttrs (!withPkcs11) { CGO_ENABLED = 0; };
        tags = lib.optional withPkcs11 "pkcs11";
        meta.mainProgram = "nebula";
      }
    ) { };
    dnsmasq = makeOverridable (
      {
        dbusSupport ? true,
      }:
      mkDerivation {
        pname = "dnsmasq";
        version = "2.92";
        preBuild = "makeFlagsArray=(COPTS=-DHAVE_DNSSEC)";
        postBuild = "make -C contrib/lease-tools";
        postInstall = "install contrib/lease-tools/dhcp_release $out/bin";
        buildInputs = [ (simple "nettle") ] ++ lib.optional dbusSupport (simple "dbus");
        meta.mainProgram = "dnsmasq";
      }
    ) { };
    fuse3 = mkDerivation {
      pname = "fuse";
      version = "3.17";
      preConfigure = "substituteInPlace lib/mount_util.c --replace-fail /bin/mount /nix/store/x-util-linux/bin/mount";
    };
    # pkgs/by-name/sq/squashfuse/package.nix: its FUSE argument was `fuse`
    # (0.5.2), `fuse3` (0.6.1, NixOS/nixpkgs#340410) and is `fuse` again in
    # 0.6.3, the newest version in the stored nixpkgs sources, taken to be the
    # pinned nixos-26.05's (a networked `nix flake check` confirms it).
    squashfuse = makeOverridable (
      {
        fuse ? pkgs.fuse3,
      }:
      mkDerivation {
        pname = "squashfuse";
        version = "0.6.3";
        buildInputs = [ fuse ];
      }
    ) { };
  }
  // lib.genAttrs [
    "makeWrapper"
    "squashfsTools"
    "pkg-config"
    "fuse"
    "zstd"
    "zlib"
    "xz"
    "lz4"
    "lzo"
    "glib"
    "nixfmt"
    "nixfmt-tree"
    "graphviz"
    "binutils-unwrapped"
    "dig"
    "netcat"
    "procps"
    "ruff"
  ] simple;
in
pkgs
