"""cryptic-net: turn an overlay network inventory into what each host's AppImage carries."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cryptic-net")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"
