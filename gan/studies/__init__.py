"""The studies behind the README's figures, as library functions the `experiments` mains call.

* `latent_walk`: interpolation, class morphs, attribute arithmetic and memorization in a trained
  MNIST GAN's latent space (functions of a sampler ``z -> images``, a classifier and arrays);
* `saturation`: the generator losses' gradient against D(G(z)) (Goodfellow et al. 2014, Sec. 3);
* `goodfellow_fig1`: a 1-D GAN's D beside the optimal D* as it trains (Goodfellow et al. 2014,
  Fig. 1).

Each module measures, draws and returns the numbers; the mains add flags and file names.
"""
