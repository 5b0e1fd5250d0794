"""A diagram as PNG: the SVG through ``rsvg-convert`` (librsvg2-bin), else ImageMagick.

Mirrors nothing in Kubernetes; the only part of the views that runs a program. A converter
that fails or writes no PNG is skipped for the next; none left is a one-line error saying
what to install.
"""

from __future__ import annotations

import shutil
import subprocess

from podnet.core.errors import KernelError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_TIMEOUT = 60


def png_converters() -> list[list[str]]:
    """Commands on PATH that turn SVG on stdin into PNG on stdout, best first."""
    commands = []
    if shutil.which("rsvg-convert"):
        commands.append(["rsvg-convert", "--format", "png", "--background-color", "white"])
    if shutil.which("magick"):
        commands.append(["magick", "svg:-", "png:-"])
    if shutil.which("convert"):
        commands.append(["convert", "svg:-", "png:-"])
    return commands


def to_png(svg_text: str, timeout: float = PNG_TIMEOUT) -> bytes:
    """Render SVG text as PNG with rsvg-convert (librsvg2-bin), else ImageMagick.

    Raises KernelError when no converter is installed or none produced a PNG."""
    commands = png_converters()
    if not commands:
        raise KernelError("cannot make a PNG: neither rsvg-convert (Debian/Ubuntu package librsvg2-bin) nor "
                          "ImageMagick's convert is on PATH; install librsvg2-bin, or use -f svg")
    failures = []
    data = svg_text.encode("utf-8")
    for argv in commands:
        try:
            proc = subprocess.run(argv, input=data, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            failures.append(f"{argv[0]} timed out after {timeout:g}s")
            continue
        except OSError as exc:
            failures.append(f"{argv[0]} could not run: {exc.strerror}")
            continue
        if proc.returncode == 0 and proc.stdout.startswith(PNG_SIGNATURE):
            return proc.stdout
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        failures.append(f"{argv[0]} exited {proc.returncode}" + (f": {reason[-1][:200]}" if reason else "")
                        + ("" if proc.returncode else " without writing a PNG"))
    raise KernelError("could not convert the diagram to PNG (" + "; ".join(failures)
                      + "); install librsvg2-bin for rsvg-convert, or use -f svg")
