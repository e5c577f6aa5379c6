"""TFDS dataset builders that ship with jaxgan (importing a builder registers it with TFDS)."""
