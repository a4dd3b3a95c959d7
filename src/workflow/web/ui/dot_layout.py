"""Graphviz lays each definition version's lifecycle out once; the SVG is kept in memory and cleaned for pages.

``dot`` runs at most once per definition name and version (a lock keeps two requests from both running it),
with a time limit. When it is missing or fails, :meth:`Layouts.svg` answers ``None`` (pages then show the
lifecycle as a list) and a warning is logged once.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET

from workflow.definitions.drawing import dot_source
from workflow.definitions.model import Definition

log = logging.getLogger(__name__)

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
TIMEOUT_SECONDS = 10.0
ET.register_namespace("", SVG)
ET.register_namespace("xlink", XLINK)


def tag(name: str) -> str:
    """An SVG element's name as ElementTree spells it."""
    return f"{{{SVG}}}{name}"


class Layouts:
    """The laid-out lifecycle of each definition version, made by Graphviz's ``dot`` (``dot``: its path or name)."""

    def __init__(self, dot: str = "dot", *, timeout: float = TIMEOUT_SECONDS) -> None:
        self._dot = dot
        self._timeout = timeout
        self._lock = threading.Lock()
        self._done: dict[tuple[str, int], ET.Element | None] = {}
        self._warned = False

    def svg(self, definition: Definition, version: int) -> ET.Element | None:
        """The drawing's ``<svg>`` element (shared: copy it before changing it), or ``None`` without ``dot``."""
        key = (definition.name, version)
        if key in self._done:
            return self._done[key]
        with self._lock:
            if key not in self._done:
                self._done[key] = self._lay_out(definition, prefix(definition.name, version))
            return self._done[key]

    def _lay_out(self, definition: Definition, graph_id: str) -> ET.Element | None:
        return self.lay_out(dot_source(definition, graph_id), f"'{definition.name}'")

    def lay_out(self, source: str, what: str) -> ET.Element | None:
        """Lay out any DOT text (``what`` names it in warnings) the same way, uncached: the pathway graph, which
        changes with credentials' data. ``None`` without ``dot`` or when it fails (pages then show a table)."""
        executable = shutil.which(self._dot)
        if executable is None:
            self._warn(f"Graphviz's '{self._dot}' was not found; lifecycles are shown as lists "
                       "(install Debian's graphviz package)")
            return None
        try:
            done = subprocess.run([executable, "-Tsvg"], input=source.encode("utf-8"),
                                  capture_output=True, timeout=self._timeout, check=True)
            return cleaned(ET.fromstring(done.stdout))
        except subprocess.TimeoutExpired:
            self._warn(f"Graphviz took more than {self._timeout:g} s to lay out {what}; it is shown as a list")
        except (subprocess.CalledProcessError, OSError, ET.ParseError) as error:
            detail = getattr(error, "stderr", b"") or b""
            self._warn(f"Graphviz could not lay out {what} ({error}; "
                       f"{detail.decode('utf-8', 'replace').strip()}); it is shown as a list")
        return None

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(message)


def prefix(name: str, version: int) -> str:
    """The id of one definition version's drawing, which starts the id of every box and arrow in it."""
    return f"lifecycle-{name}-v{version}"


def cleaned(root: ET.Element) -> ET.Element:
    """Graphviz's SVG made fit to sit inside a page under a strict CSP.

    No ``style`` attribute or ``<style>`` element (the CSP refuses inline styles: colours are presentation
    attributes, and classes for ``site.css``); the fixed size becomes the largest size (``viewBox`` scales it);
    each box's and arrow's tooltip says what it shows in words rather than Graphviz's node names.
    """
    for parent in root.iter():
        for child in list(parent):
            if child.tag in (tag("style"), tag("script")):
                parent.remove(child)
        parent.attrib.pop("style", None)
    for group in root.iter(tag("g")):
        title = group.find(tag("title"))
        if title is None:
            continue
        words = " ".join(" ".join(t.text or "" for t in group.iter(tag("text"))).split())
        if words and "graph" not in group.get("class", "").split():
            title.text = words
        else:  # the whole drawing's title is set where it is shown
            group.remove(title)
    root.set("class", "lifecycle-graph")
    root.set("preserveAspectRatio", "xMinYMin meet")
    return root
