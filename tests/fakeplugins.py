"""Install throwaway plugin distributions on sys.path, as pip would, for discovery tests."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path


def install(tmp_path: Path, name: str, entry_name: str, source: str) -> str:
    """Write module ``name`` and a dist-info whose entry point ``entry_name`` names it."""
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    dist = tmp_path / f"{name}-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(f"[roleplay]\n{entry_name} = {name}\n")
    if str(tmp_path) not in sys.path:
        sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    return name


def uninstall(tmp_path: Path, *modules: str) -> None:
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))
    for module in modules:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()
