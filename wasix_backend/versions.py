"""One place that turns a recipe's version into each output format's version.

A recipe keeps upstream's version string exactly as upstream writes it (``1.07.1`` for GNU bc,
``590`` for less): that is what the program prints and what its tests expect. Each format
then needs its own spelling, derived here and nowhere else:

==================  =================  ===================  =========================
upstream (recipe)   PEP 440 (wheels,   SemVer (wasmer.toml,  used for
                    sdists, index)     ``.webc`` file name)
==================  =================  ===================  =========================
``1.07.1``          ``1.7.1``          ``1.7.1``
``590``             ``590``            ``590.0.0``
``7.2``             ``7.2``            ``7.2.0``
``2.0rc1``          ``2.0rc1``         ``2.0.0-rc.1``
``1.2.3.4``         ``1.2.3.4``        ``1.2.3+4``
==================  =================  ===================  =========================

A version that PEP 440 cannot read is refused when the recipe loads (the wheel and the Wasmer
package could not be named otherwise).
"""

from __future__ import annotations

from packaging.version import Version


def pep440(version: str) -> str:
    """The normalised PEP 440 form: wheel and sdist file names, ``METADATA``, the index."""
    return str(Version(version))


def semver(version: str) -> str:
    """The SemVer form Wasmer insists on: ``7.2`` -> ``7.2.0``, ``1.07.1`` -> ``1.7.1``.

    Pre-releases become ``-alpha.N``/``-beta.N``/``-rc.N`` (``.dev`` -> ``-dev.N``); release
    parts past the third, post-releases and local labels go into build metadata.
    """
    v = Version(version)
    release = list(v.release) + [0] * (3 - len(v.release))
    text = ".".join(str(n) for n in release[:3])
    pre = []
    if v.pre:
        pre.append(f"{dict(a='alpha', b='beta', rc='rc')[v.pre[0]]}.{v.pre[1]}")
    if v.dev is not None:
        pre.append(f"dev.{v.dev}")
    build = [str(n) for n in release[3:]]
    if v.post is not None:
        build.append(f"post.{v.post}")
    if v.local:
        build.append(v.local.replace("_", ".").replace("-", "."))
    if v.epoch:
        build.append(f"epoch.{v.epoch}")
    if pre:
        text += "-" + ".".join(pre)
    if build:
        text += "+" + ".".join(build)
    return text


def webc_filename(name: str, version: str) -> str:
    """``NAME-SEMVER.webc``: the version is the one inside the package's manifest."""
    return f"{name}-{semver(version)}.webc"
