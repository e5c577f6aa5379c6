"""Speed comparisons of jaxgan's train step with PyTorch and Keras versions of the same models."""
