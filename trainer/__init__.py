"""Training SPADE models (no Qt). ``build_discriminator`` is the reference-vector entry point.

Importing the package is cheap (no torch): the torch-free parts (``trainer.events``,
``trainer.config``) can be used on their own; the discriminator names load on first use.
"""

from __future__ import annotations

__all__ = ["DiscriminatorConfig", "MultiscaleDiscriminator", "build_discriminator"]


def __getattr__(name: str):
    if name in __all__:
        from . import discriminator

        return getattr(discriminator, name)
    raise AttributeError(f"module 'trainer' has no attribute {name!r}")
