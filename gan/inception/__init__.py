r"""The FID Inception network (InceptionV3, TF graph of 2015-12-05) in Flax, and its weight loader.

FID and Inception Score are only comparable across papers when they are computed with *the same*
network: the TensorFlow Inception graph of 2015-12-05 that the original FID code (Heusel et al.
2017) and IS code (Salimans et al. 2016) use. pytorch-fid ported it to PyTorch as
``fid_inception_v3``; this package is that network in Flax linen (`gan.inception.network`),
loading the very same weights file (`gan.inception.weights`):

* the stem and the ``InceptionB`` / ``InceptionD`` reduction blocks of torchvision's InceptionV3;
* ``FIDInceptionA`` / ``FIDInceptionC`` and the first ``FIDInceptionE`` (``Mixed_7b``), whose pool
  branch averages over the *valid* pixels of each 3x3 window only (TF's average pool;
  ``count_include_pad=False`` in PyTorch);
* the second ``FIDInceptionE`` (``Mixed_7c``), whose pool branch is a 3x3 *max* pool (a quirk of
  the TF graph that pytorch-fid reproduces);
* BatchNorm with ``eps = 1e-3``, always in inference mode (running statistics);
* no auxiliary classifier; a 1008-way ``fc`` layer (the TF graph's 1008 classes) on the pool3
  features, whose logits feed the Inception Score.

Inputs are NHWC images in ``[-1, 1]`` (the GAN convention: a ``tanh`` generator output). They are
resized to 299x299 with bilinear interpolation exactly as ``torch.nn.functional.interpolate(...,
mode="bilinear", align_corners=False)`` does (no antialiasing), which is what pytorch-fid does to
its ``[0, 1]`` inputs before mapping them to ``[-1, 1]``. Both steps are affine and the resize
weights sum to one, so resizing ``[-1, 1]`` images gives the same network input. Real images stored
as ``uint8`` map to ``[-1, 1]`` as ``x / 127.5 - 1``.

Getting the weights (this module never downloads anything)::

  wget https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth

and point the evaluation at the file (a run's saved config has no such field; the evaluation
command sets it)::

  python -m experiments.evaluate --workdir workdirs/RUN \
      --inception_weights=/path/to/pt_inception-2015-12-05-6726825d.pth

(the path is passed to `load_inception_params`). The ``.pth`` file is read **without PyTorch**: a
small restricted unpickler rebuilds its tensors as NumPy arrays, both from the zip format of
``torch.save`` (PyTorch >= 1.6) and from the older "legacy" format; only when a file uses a
construct that reader does not know is ``torch`` (if installed) asked to read it. A ``.npz`` with
the same tensor names (`save_npz`) loads too and is the fastest to read::

  from gan import inception
  inception.save_npz("inception_fid.npz",
                     inception.read_state_dict("pt_inception-2015-12-05-6726825d.pth"))

Typical use::

  variables = inception.load_inception_params(config.inception_weights)
  features_fn = jax.jit(inception.inception_features, static_argnames="return_logits")
  pool3 = features_fn(variables, images)                       # [B, 2048], for FID
  pool3, logits = features_fn(variables, images, return_logits=True)  # logits [B, 1008], for IS

Numerics: on GPUs/TPUs XLA may run float32 convolutions at reduced (TF32/bf16-pass) precision by
default, as PyTorch does with cuDNN's TF32; wrap the call in
``jax.default_matmul_precision("highest")`` when the last digits of a score matter.

References:
  Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer Vision" (InceptionV3);
  Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
  Equilibrium" (FID); Salimans et al. 2016, "Improved Techniques for Training GANs" (IS);
  Seitzer 2020, pytorch-fid, https://github.com/mseitzer/pytorch-fid (``fid_inception_v3``).
"""

from gan.inception.network import (BATCH_NORM_EPSILON, FEATURE_DIM, INPUT_SIZE, NUM_LOGITS,
                                   BasicConv2d, FIDInceptionA, FIDInceptionC, FIDInceptionE,
                                   InceptionB, InceptionD, InceptionV3, inception_features,
                                   resize_to_inception_input)
from gan.inception.weights import (FID_WEIGHTS_FILENAME, FID_WEIGHTS_URL,
                                   expected_state_dict_shapes, load_inception_params,
                                   params_to_state_dict, random_inception_state_dict,
                                   read_state_dict, save_npz, state_dict_to_params)

__all__ = [
    "BATCH_NORM_EPSILON", "FEATURE_DIM", "INPUT_SIZE", "NUM_LOGITS", "FID_WEIGHTS_FILENAME",
    "FID_WEIGHTS_URL", "BasicConv2d", "FIDInceptionA", "InceptionB", "FIDInceptionC",
    "InceptionD", "FIDInceptionE", "InceptionV3", "resize_to_inception_input",
    "inception_features", "expected_state_dict_shapes", "state_dict_to_params",
    "params_to_state_dict", "random_inception_state_dict", "save_npz", "read_state_dict",
    "load_inception_params",
]
