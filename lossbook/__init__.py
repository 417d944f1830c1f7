"""lossbook: reference implementations of the loss functions taught in the book."""

from .activations import sigmoid

__all__ = ["sigmoid"]
__version__ = "0.1.0"
