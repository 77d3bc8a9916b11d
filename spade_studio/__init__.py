"""SPADE Studio: paint label maps, get photo-like images from a SPADE generator."""

__version__ = "0.1.0"
