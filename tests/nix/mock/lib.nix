# Stand-ins for the nixpkgs `lib` functions the flake uses (see README.md).
let
  inherit (builtins)
    attrNames
    concatMap
    concatStringsSep
    listToAttrs
    pathExists
    stringLength
    substring
    ;

  lib = {
    # nixpkgs' lib.functionArgs: a functor may carry its arguments in __functionArgs.
    functionArgs =
      f:
      if f ? __functor then
        f.__functionArgs or (builtins.functionArgs (f.__functor f))
      else
        builtins.functionArgs f;
    genAttrs =
      names: f:
      listToAttrs (
        map (name: {
          inherit name;
          value = f name;
        }) names
      );
    optionalAttrs = cond: set: if cond then set else { };
    optionalString = cond: s: if cond then s else "";
    optional = cond: x: if cond then [ x ] else [ ];
    filterAttrs =
      pred: set:
      listToAttrs (
        concatMap (
          name:
          if pred name set.${name} then
            [
              {
                inherit name;
                value = set.${name};
              }
            ]
          else
            [ ]
        ) (attrNames set)
      );
    inherit (builtins)
      mapAttrs
      attrValues
      any
      all
      ;
    hasSuffix =
      suffix: s:
      let
        n = stringLength suffix;
        m = stringLength s;
      in
      m >= n && substring (m - n) n s == suffix;
    removePrefix =
      prefix: s:
      let
        n = stringLength prefix;
      in
      if substring 0 n s == prefix then substring n (stringLength s - n) s else s;
    escapeShellArg = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
    escapeShellArgs = args: concatStringsSep " " (map lib.escapeShellArg args);
    concatMapStrings = f: list: concatStringsSep "" (map f list);
    getExe =
      drv:
      "${drv}/bin/${drv.meta.mainProgram or (throw "lib.getExe: ${drv.name} has no meta.mainProgram")}";
    getExe' = drv: name: "${drv}/bin/${name}";
    getDev = drv: drv.dev or drv;
    makeBinPath = drvs: concatStringsSep ":" (map (drv: "${drv}/bin") drvs);
    importTOML = path: builtins.fromTOML (builtins.readFile path);
    mkMerge = contents: {
      _type = "merge";
      inherit contents;
    };
    mkForce = content: {
      _type = "override";
      priority = 50;
      inherit content;
    };
    meta.availableOn =
      platform: drv: builtins.elem platform.system (drv.meta.platforms or [ platform.system ]);
    licenses = {
      mit = "mit";
      wtfpl = "wtfpl";
    };
    sourceTypes.binaryNativeCode = "binaryNativeCode";
    platforms.linux = [
      "x86_64-linux"
      "aarch64-linux"
    ];

    # lib.fileset: toSource insists, as the real one does, that every path named
    # exists (maybeMissing aside) and lies under the root.
    fileset =
      let
        isUnder =
          root: path:
          let
            r = toString root;
            p = toString path;
          in
          p == r || substring 0 (stringLength r + 1) p == r + "/";
        check =
          root: set:
          if builtins.isPath set then
            if !pathExists set then
              throw "lib.fileset: ${toString set} does not exist"
            else if !isUnder root set then
              throw "lib.fileset: ${toString set} is not under ${toString root}"
            else
              [ (toString set) ]
          else if set._kind == "union" then
            concatMap (check root) set.members
          else if set._kind == "missing" then
            [ ]
          else if set._kind == "filter" then
            # Exercise the predicate the way the real fileFilter calls it.
            let
              file = name: {
                inherit name;
                type = "regular";
                hasExt = ext: lib.hasSuffix ".${ext}" name;
              };
              picked = builtins.filter (name: set.predicate (file name)) set.probe;
            in
            check root set.root ++ map (name: "${toString set.root}/**/${name}") picked
          else
            throw "lib.fileset: not a file set";
      in
      {
        unions = members: {
          _kind = "union";
          inherit members;
        };
        maybeMissing = path: if pathExists path then path else { _kind = "missing"; };
        fileFilter = predicate: root: {
          _kind = "filter";
          inherit predicate root;
          probe = [
            "a.yml"
            "a.crt"
            "a.key"
            "a.nix"
            "README.md"
            "a.yaml"
          ];
        };
        toSource =
          { root, fileset }:
          let
            members = check root fileset;
          in
          {
            # Using the source (as a string) forces the checks.
            outPath = builtins.deepSeq members "/nix/store/00000000000000000000000000000000-source";
            inherit members;
          };
      };
  };
in
lib
