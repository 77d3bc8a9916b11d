"""SPADE networks and inference. Importable without Qt."""

from .config import ConfigError, EncoderConfig, GeneratorConfig, SPADENormConfig
from .encoder import StyleEncoder
from .fast import FastGenerator, optimize_for_inference
from .generator import SPADEGenerator
from .official import (
    build_encoder,
    build_generator,
    load_official_state_dict,
)
from .semantics import make_semantics

__all__ = [
    "ConfigError", "EncoderConfig", "GeneratorConfig", "SPADENormConfig", "SPADEGenerator",
    "StyleEncoder", "build_encoder", "build_generator", "load_official_state_dict",
    "make_semantics", "Synthesizer", "FastGenerator", "optimize_for_inference",
]


def __getattr__(name):  # lazy: the Synthesizer pulls in more than the vector checks need
    if name == "Synthesizer":
        from .synthesize import Synthesizer

        return Synthesizer
    raise AttributeError(name)
