"""twistfm: decode a mystery label with CNNs, encodings, clustering and projections."""

__version__ = "0.2.0"

__all__ = ["__version__"]
