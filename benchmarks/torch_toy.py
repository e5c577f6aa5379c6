"""The PacGAN-style 2-D toy GAN (jaxgan's ``mlp`` family) in PyTorch, for speed comparisons.

Layer for layer `gan.models.MLPGenerator` (ReLU hidden layers, linear output) and
`gan.models.MLPDiscriminator` (LeakyReLU(0.2) hidden layers, no dropout, a logit), with the same
parameter counts (asserted against the formula). One iteration is the one of
`benchmarks.torch_dcgan.TorchDCGAN`: G once, a D update on ``[real; fake]`` in one call, a G update
through the frozen D on the same fake; Adam with beta_1 = 0.5 as jaxgan's default.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def mlp_params(n_in: int, hidden: Sequence[int], n_out: int) -> int:
  """Weights and biases of a fully connected net ``n_in -> hidden... -> n_out``."""
  widths = [n_in, *hidden, n_out]
  return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


class MLP(nn.Module):
  """Fully connected layers with ``activation`` between them and a linear output."""

  def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, activation):
    super().__init__()
    widths = [n_in, *hidden, n_out]
    self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
    self.activation = activation

  def forward(self, x):
    for layer in self.layers[:-1]:
      x = self.activation(layer(x))
    return self.layers[-1](x)


class TorchToyGAN:
  """A ready-to-step toy GAN training loop on a fixed random real batch.

  Args:
    batch_size: examples per D update.
    hidden: hidden widths of both G and D (jaxgan's ``model_args.hidden``).
    latent_dim: z's size.
    data_dim: the data's size (2 for the 2-D toys).
    learning_rate: Adam's step size for both networks.
  """

  def __init__(self, batch_size: int, hidden: Sequence[int] = (400, 400, 400),
               latent_dim: int = 2, data_dim: int = 2, learning_rate: float = 1e-4,
               seed: int = 0):
    torch.manual_seed(seed)
    self.batch_size, self.latent_dim = batch_size, latent_dim
    self.generator = MLP(latent_dim, hidden, data_dim, F.relu)
    self.discriminator = MLP(data_dim, hidden, 1, lambda h: F.leaky_relu(h, 0.2))
    for net, n_in, n_out in ((self.generator, latent_dim, data_dim),
                             (self.discriminator, data_dim, 1)):
      count = sum(p.numel() for p in net.parameters())
      assert count == mlp_params(n_in, hidden, n_out), f"{count} parameters"
    self.real = torch.rand(batch_size, data_dim) * 2 - 1
    adam = lambda p: torch.optim.Adam(p, lr=learning_rate, betas=(0.5, 0.999), fused=True)
    self.g_opt = adam(self.generator.parameters())
    self.d_opt = adam(self.discriminator.parameters())

  def step(self) -> float:
    """One iteration: a D update on real and fake, then a G update. Returns the G loss."""
    n = self.batch_size
    fake = self.generator(torch.randn(n, self.latent_dim))
    logits = self.discriminator(torch.cat([self.real, fake.detach()]))[:, 0]
    d_loss = F.softplus(-logits[:n]).mean() + F.softplus(logits[n:]).mean()
    self.d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    self.d_opt.step()
    self.discriminator.requires_grad_(False)
    g_loss = F.softplus(-self.discriminator(fake)[:, 0]).mean()
    self.g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    self.g_opt.step()
    self.discriminator.requires_grad_(True)
    return float(g_loss.detach())
