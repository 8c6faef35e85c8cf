"""cryptic-net: turn an overlay network inventory into what each host's AppImage carries."""

from __future__ import annotations

# The version, defined here once: pyproject.toml reads it (setuptools `attr:`, without
# importing the package) and so does the Nix package (pkgs/cryptic-net). A literal, not
# importlib.metadata: importing that costs every run of the glue about 30 ms of CPU, more than
# rendering a host from a network description (once per host in a Nix build).
__version__ = "0.1.0"
