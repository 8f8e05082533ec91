"""A tiny calculator: the project `maverick fly` builds in the fly demo."""

__version__ = "0.1.0"
