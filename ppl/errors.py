"""Exceptions of the modelling language and the one formatter that words them.

Every error raised by :mod:`ppl` about a model reads the same way::

    site 'tau': <what went wrong, with the bad value or both shapes>. <how to fix it>.

so that a user scanning a traceback finds the site first, then the fact, then the fix (STYLE_NOTES
principle 18; the wording follows Stan's ``throw_domain_error`` and NumPyro's
``helpful_support_errors``).  This module owns only the wording and the exception classes; the
checks themselves live next to the code that can detect the problem (:mod:`ppl.runtime`,
:mod:`ppl.primitives`, :mod:`ppl.handlers`, the distributions).

>>> print(format_message("support positive has no bijector", site="tau",
...                      fix="use a distribution with a continuous support"))
site 'tau': support positive has no bijector. Use a distribution with a continuous support.
>>> raise SiteError("y", "observed value contains NaN")
Traceback (most recent call last):
    ...
ppl.errors.SiteError: site 'y': observed value contains NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "DuplicateSiteError",
    "MissingSeedError",
    "ModelError",
    "ObservedValueError",
    "PlateError",
    "ShapeError",
    "SiteError",
    "UnknownSiteError",
    "format_message",
]


def _sentence(text: str) -> str:
    """``text`` with a capital first letter and a final full stop (unless it ends in ``.?!``)."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!" else text + "."


def format_message(
    what: str,
    site: str | Sequence[str] | None = None,
    fix: str | None = None,
    *,
    kind: str = "site",
) -> str:
    """Word an error as ``"<kind> '<site>': <what>. <fix>."``.

    Parameters
    ----------
    what : what went wrong; include the bad value or both shapes.
    site : the site name (or several names) the error is about; ``None`` for a model-wide error.
    fix : how the user can fix it, as an imperative sentence.
    kind : the noun in front of the name: ``"site"`` (default) or ``"plate"``.

    Examples
    --------
    >>> format_message("is not a sample site of the model", site=["muu", "sd"])
    "sites 'muu', 'sd': is not a sample site of the model."
    >>> format_message("dim -1 is used by the enclosing plate 'a'", site="b", kind="plate")
    "plate 'b': dim -1 is used by the enclosing plate 'a'."
    """
    what = what.strip()
    if what and what[-1] not in ".?!":
        what += "."
    head = ""
    if site is not None:
        names = [site] if isinstance(site, str) else list(site)
        noun = kind if len(names) == 1 else kind + "s"
        head = f"{noun} " + ", ".join(repr(str(n)) for n in names) + ": "
    text = head + what
    if fix:
        text += " " + _sentence(fix)
    return text


class ModelError(Exception):
    """An error in a model or in how a handler was applied to it.

    Parameters
    ----------
    message : what went wrong.
    site : the site (or sites) concerned, if any.
    fix : how to fix it.
    kind : ``"site"`` or ``"plate"``, the noun printed before the name.
    """

    def __init__(
        self,
        message: str,
        *,
        site: str | Sequence[str] | None = None,
        fix: str | None = None,
        kind: str = "site",
    ):
        self.site = site
        self.message = message
        self.fix = fix
        self.text = format_message(message, site, fix, kind=kind)
        super().__init__(self.text)

    def __str__(self) -> str:
        return self.text


class SiteError(ModelError):
    """An error about one site: ``site '<site>': <message>. <fix>``.

    ``kind="plate"`` words it ``plate '<name>': ...`` for a plate site.
    """

    def __init__(self, site: str, message: str, fix: str | None = None, *, kind: str = "site"):
        super().__init__(message, site=site, fix=fix, kind=kind)


class MissingSeedError(SiteError, RuntimeError):
    """A sample site (or a subsampled plate) needs random numbers but no ``seed`` handler gave any."""


class DuplicateSiteError(SiteError, ValueError):
    """Two sites of one model run share a name."""


class ShapeError(SiteError, ValueError):
    """A site's shape does not fit its plates or its observed value (both shapes are printed)."""


class ObservedValueError(SiteError, ValueError):
    """Observed data (``obs=`` or ``condition``) contains NaN or infinite entries."""


class PlateError(ModelError, ValueError):
    """A plate's arguments are invalid (size, subsample size, dim)."""

    def __init__(self, plate: str, message: str, fix: str | None = None):
        super().__init__(message, site=plate, fix=fix, kind="plate")


class UnknownSiteError(ModelError, ValueError):
    """``condition``/``substitute``/``do`` were given names that are not sites of the model."""

    def __init__(self, names: Sequence[str], message: str, fix: str | None = None):
        self.names = list(names)
        super().__init__(message, site=self.names, fix=fix)
