"""Training SPADE models (no Qt). ``build_discriminator`` is the reference-vector entry point."""

from .discriminator import DiscriminatorConfig, MultiscaleDiscriminator, build_discriminator

__all__ = ["DiscriminatorConfig", "MultiscaleDiscriminator", "build_discriminator"]
