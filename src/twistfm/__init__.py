"""twistfm: decode a mystery label with CNNs, encodings, clustering and projections."""

__version__ = "0.1.0"

__all__ = ["__version__"]
