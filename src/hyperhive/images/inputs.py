"""What an image is made of, and the id that names it: a hash of its inputs (suite, mirror, the sorted
package list, the base it shares files with, and the image format version), so equal inputs are one image
and any change is a new one. Defaults come from the host's own apt sources."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

# Bump when the layout of a built image changes (what the builder adds or how it shares files).
FORMAT_VERSION = 1
DEFAULT_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = Path("/etc/apt")


@dataclass(frozen=True)
class ImageInputs:
    """Everything a build reads; `image_id` is a function of exactly these."""

    suite: str
    mirror: str
    packages: tuple[str, ...]
    """All packages the image holds on top of Debian's essential set (base and own), sorted."""
    base: str | None = None
    """The id of the base image whose files this one shares; None for a base image."""
    refresh: str = ""
    """Set by `hivectl rebuild --refresh`: a new stamp is a new image from the mirror's current packages."""

    @property
    def image_id(self) -> str:
        data: dict[str, object] = {"suite": self.suite, "mirror": self.mirror, "packages": sorted(self.packages),
                                   "base": self.base, "format": FORMAT_VERSION}
        if self.refresh:
            data["refresh"] = self.refresh
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20]
        return f"{'pkg' if self.base else 'base'}-{digest}"

    def to_dict(self) -> dict[str, object]:
        return {"suite": self.suite, "mirror": self.mirror, "packages": list(self.packages), "base": self.base,
                "refresh": self.refresh, "format": FORMAT_VERSION}


def host_apt_default(root: Path = APT_SOURCES) -> tuple[str, str]:
    """(suite, mirror) of the host's first Debian main source: deb822 `*.sources` first, then the
    one-line format. Falls back to /etc/os-release's codename on deb.debian.org."""
    for path in sorted((root / "sources.list.d").glob("*.sources")):
        found = _from_deb822(_read(path))
        if found:
            return found
    for path in [root / "sources.list", *sorted((root / "sources.list.d").glob("*.list"))]:
        found = _from_one_line(_read(path))
        if found:
            return found
    return _codename(), DEFAULT_MIRROR


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _from_deb822(text: str) -> tuple[str, str] | None:
    for stanza in re.split(r"\n\s*\n", text):
        fields = dict(_field(line) for line in stanza.splitlines() if re.match(r"^[A-Za-z-]+:", line))
        if "deb" not in fields.get("Types", "").split() or "main" not in fields.get("Components", "").split():
            continue
        for suite in fields.get("Suites", "").split():
            if _is_release(suite):
                uris = fields.get("URIs", "").split()
                if uris:
                    return suite, uris[0]
    return None


def _field(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip(), value.strip()


def _from_one_line(text: str) -> tuple[str, str] | None:
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(words) >= 4 and words[0] == "deb" and "main" in words[3:] and _is_release(words[2]):
            return words[2], words[1]
    return None


def _is_release(suite: str) -> bool:
    """`bookworm`, `stable`, `sid`: not `bookworm-updates` or `bookworm-security` (those add to a release)."""
    return re.fullmatch(r"[a-z]+", suite) is not None


def _codename() -> str:
    for line in _read(Path("/etc/os-release")).splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"') or "stable"
    return "stable"
