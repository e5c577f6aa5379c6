"""The source material's convolutional autoencoder on the offline MNIST digits (mnist5k).

conv_autoencoder28 (4,385 parameters, a 4x4x8 code), pixels in [0, 1], binary cross-entropy,
Adam with Keras's defaults, batch 128, 50 epochs of the 4,000 training digits (31 steps each);
figures of held-out originals above their reconstructions after epochs 10 and 50.

  python -m experiments.autoencoder --workdir workdirs/autoencoder_mnist \
      --config experiments/configs/autoencoder_mnist.py
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  # Data: a registered dataset with a labelled 'test' split (the held-out digits).
  c.dataset = "mnist5k"
  c.data_dir = ""               # TFDS data dir; "" = $TFDS_DATA_DIR or ~/tensorflow_datasets
  # Model: a registered autoencoder (gan.models.autoencoder.names()).
  c.model = "conv_autoencoder28"
  c.noise_std = 0.0             # > 0: a denoising autoencoder; Gaussian noise of this std is
                                # added to the input, clipped to [0, 1]; the target stays clean
  # Optimisation: Keras's Adam defaults (keras.optimizers.Adam()). Keras adds epsilon to sqrt(v)
  # before the bias correction, optax after it: the same update up to ~1e-7 relative to sqrt(v).
  c.learning_rate = 1e-3
  c.adam_b1 = 0.9
  c.adam_b2 = 0.999
  c.adam_eps = 1e-7             # Keras's epsilon (optax's default is 1e-8)
  # The loss is binary cross-entropy from logits (softplus(l) - t * l). Keras clips probabilities
  # to [1e-7, 1 - 1e-7] (backend epsilon) when it only has probabilities; after a sigmoid layer
  # it uses the logits too. The two differ only where a pixel is predicted within 1e-7 of 0 or 1.
  c.batch_size = 128            # the material's; 4,000 digits give 31 steps per epoch (the last
                                # 32 of each epoch's shuffled order are dropped, a different 32
                                # each epoch; Keras would run a short 32nd batch)
  c.num_epochs = 50
  c.seed = 0
  # Outputs.
  c.figure_epochs = (10, 50)    # after these epochs: reconstructions_epoch<E>.png
  c.checkpoint_every_epochs = 5
  c.keep_checkpoints = 3
  return c
