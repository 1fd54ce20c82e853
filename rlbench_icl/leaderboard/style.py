"""How a submission is drawn: a stable colour, marker and line style (``styles.toml``).

A reference submission's style is data, in ``styles.toml`` beside this module; any other
submission's comes from a hash of its name, so adding a submission never recolours another.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

STYLES_FILE = Path(__file__).resolve().parent / "styles.toml"


@dataclass(frozen=True)
class Style:
    """One submission's look in every figure."""

    colour: str
    """A hex colour."""
    marker: str
    """A matplotlib marker."""
    line: str
    """A matplotlib line style."""
    reference: bool
    """A reference submission (filled marker) or a user one (hollow marker, "(user)")."""

    @property
    def face(self) -> str:
        """The marker's fill: the colour for a reference submission, white for a user's."""
        return self.colour if self.reference else "white"

    def label(self, name: str) -> str:
        return name if self.reference else f"{name} (user)"


@dataclass(frozen=True)
class Styles:
    """The reference styles and what a user submission draws from."""

    reference: dict[str, Style]
    user_palette: tuple[str, ...]
    user_markers: tuple[str, ...]
    user_line: str

    def __getitem__(self, name: str) -> Style:
        return self.of(name)

    def of(self, name: str) -> Style:
        if name in self.reference:
            return self.reference[name]
        pick = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
        return Style(self.user_palette[pick % len(self.user_palette)],
                     self.user_markers[(pick // len(self.user_palette))
                                       % len(self.user_markers)], self.user_line, False)


@cache
def load_styles(path: Path = STYLES_FILE) -> Styles:
    """The styles file; ``ValueError`` naming the entry if one lacks a field."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    reference = {}
    for name, entry in data["reference"].items():
        try:
            reference[name] = Style(entry["colour"], entry["marker"], entry["line"], True)
        except KeyError as exc:
            raise ValueError(f"{path}: reference.{name} has no {exc.args[0]}") from None
    return Styles(reference, tuple(data["user_palette"]), tuple(data["user_markers"]),
                  data["user_line"])
