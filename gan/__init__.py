"""jaxgan: a JAX/Flax functional research codebase for Generative Adversarial Networks."""

__version__ = "0.1.0"
