"""A tiny calculator: the project `maverick fly` builds in the fly demo.

Modules: ``calc.ops`` (arithmetic) and ``calc.cli`` (the command line).
"""

__version__ = "0.1.0"
