"""The seed's ``dcgan28`` GAN in PyTorch, and one training iteration of it, for speed comparisons.

The models are layer for layer `gan.models.DCGAN28Generator` / `DCGAN28Discriminator` (the seed's
Keras DCGAN), with the same parameter counts (asserted). One iteration is what
`gan.step.train_step` does for ``n_critic = 1``:

1. draw z, run G once (training mode, BatchNorm batch statistics);
2. one D update on ``real`` and ``fake.detach()``, in a single D call on both by default (D has no
   BatchNorm, so this is the same function as two calls), non-saturating loss from logits;
3. one G update through D on the same ``fake`` (the PyTorch DCGAN example's shared forward), with
   D's parameters frozen so no D weight gradients are computed.

Adam(2e-4, betas=(0.5, 0.999)) for both. ``torch.compile`` compiles the two loss functions (G and
D forwards included); backward passes then run through AOTAutograd's compiled graphs.

Note on padding: TensorFlow's stride-2 'SAME' pads a 5x5 kernel (1, 2) on 28 -> 14 and 14 -> 7;
PyTorch's symmetric ``padding=2`` gives the same output sizes and FLOPs with a one-pixel shift,
which does not matter for timing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LATENT_DIM = 100
G_TRAINABLE_PARAMS = 852_609  # gan.models.DCGAN28Generator
D_TRAINABLE_PARAMS = 212_865  # gan.models.DCGAN28Discriminator


class Generator(nn.Module):
  """Dense(128*7*7) -> LeakyReLU -> BN -> 7x7x128 -> up x2 -> Conv64 k5 -> BN -> LeakyReLU ->
  up x2 -> Conv1 k5 -> tanh. Keras BatchNorm momentum 0.99 is PyTorch momentum 0.01."""

  def __init__(self, latent_dim: int = LATENT_DIM, channels_last: bool = False):
    super().__init__()
    self.channels_last = channels_last
    self.dense = nn.Linear(latent_dim, 128 * 7 * 7)
    self.bn_0 = nn.BatchNorm1d(128 * 7 * 7, eps=1e-3, momentum=0.01)
    self.conv_0 = nn.Conv2d(128, 64, 5, padding=2)
    self.bn_1 = nn.BatchNorm2d(64, eps=1e-3, momentum=0.01)
    self.conv_1 = nn.Conv2d(64, 1, 5, padding=2)

  def forward(self, z):
    h = self.bn_0(F.leaky_relu(self.dense(z), 0.2))
    # Keras reshapes to (7, 7, 128): channels last in memory. Reshape the same way, then view as
    # NCHW, so the parameters mean what they mean in the other two implementations.
    h = h.view(-1, 7, 7, 128).permute(0, 3, 1, 2)
    h = h.contiguous(memory_format=torch.channels_last if self.channels_last
                     else torch.contiguous_format)
    h = F.interpolate(h, scale_factor=2, mode="nearest")
    h = F.leaky_relu(self.bn_1(self.conv_0(h)), 0.2)
    h = F.interpolate(h, scale_factor=2, mode="nearest")
    return torch.tanh(self.conv_1(h))


class Discriminator(nn.Module):
  """Conv64 k5 s2 -> LeakyReLU -> Dropout 0.3 -> Conv128 k5 s2 -> LeakyReLU -> Dropout 0.3 ->
  Flatten -> Dense 1 (a logit)."""

  def __init__(self, dropout_rate: float = 0.3):
    super().__init__()
    self.conv_0 = nn.Conv2d(1, 64, 5, stride=2, padding=2)
    self.conv_1 = nn.Conv2d(64, 128, 5, stride=2, padding=2)
    self.out = nn.Linear(128 * 7 * 7, 1)
    self.dropout_rate = dropout_rate

  def forward(self, x):
    h = F.dropout(F.leaky_relu(self.conv_0(x), 0.2), self.dropout_rate, self.training)
    h = F.dropout(F.leaky_relu(self.conv_1(h), 0.2), self.dropout_rate, self.training)
    return self.out(torch.flatten(h, 1))[:, 0]


def trainable_params(module: nn.Module) -> int:
  """Number of trainable scalars (BatchNorm running statistics are buffers, not counted)."""
  return sum(p.numel() for p in module.parameters() if p.requires_grad)


class TorchDCGAN:
  """A ready-to-step dcgan28 training loop on a fixed random real batch.

  Args:
    batch_size: examples per D update (and per G update).
    compile: wrap the D and G loss functions in ``torch.compile``.
    channels_last: keep 4-D activations NHWC in memory (oneDNN's preferred layout).
    dynamic: ``torch.compile``'s ``dynamic``: False compiles each batch size anew, True once with
      a symbolic batch size.
    concat_real_fake: one D call on ``[real; fake]`` in the D update (else one call on each).
    seed: for the parameters and the data.
  """

  def __init__(self, batch_size: int, compile: bool = False, channels_last: bool = False,
               dynamic: bool = False, concat_real_fake: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    self.dynamic = dynamic
    self.concat_real_fake = concat_real_fake
    self.batch_size = batch_size
    self.generator = Generator(channels_last=channels_last)
    self.discriminator = Discriminator()
    g_count, d_count = (trainable_params(self.generator), trainable_params(self.discriminator))
    assert g_count == G_TRAINABLE_PARAMS, f"G has {g_count} trainable parameters"
    assert d_count == D_TRAINABLE_PARAMS, f"D has {d_count} trainable parameters"
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    self.generator.to(memory_format=memory_format)
    self.discriminator.to(memory_format=memory_format)
    self.real = (torch.rand(batch_size, 1, 28, 28) * 2 - 1).contiguous(
        memory_format=memory_format)
    # fused=True: one multi-tensor kernel per parameter group, the fastest CPU Adam.
    adam = lambda params: torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999), fused=True)
    self.g_opt = adam(self.generator.parameters())
    self.d_opt = adam(self.discriminator.parameters())
    self.d_loss_fn = self._d_loss
    self.g_loss_fn = self._g_loss
    if compile:
      self.d_loss_fn = torch.compile(self._d_loss, dynamic=self.dynamic)
      self.g_loss_fn = torch.compile(self._g_loss, dynamic=self.dynamic)
      self.fake_fn = torch.compile(self.generator, dynamic=self.dynamic)
    else:
      self.fake_fn = self.generator

  def _d_loss(self, real, fake):
    if self.concat_real_fake:
      n = real.shape[0]
      logits = self.discriminator(torch.cat([real, fake]))
      real_logits, fake_logits = logits[:n], logits[n:]
    else:
      real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
    # Non-saturating D loss: -log D(x) - log(1 - D(G(z))), as softplus of logits.
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

  def _g_loss(self, fake):
    return F.softplus(-self.discriminator(fake)).mean()  # -log D(G(z))

  def step(self) -> float:
    """One iteration: a D update on real and fake, then a G update. Returns the G loss."""
    z = torch.randn(self.batch_size, LATENT_DIM)
    fake = self.fake_fn(z)
    d_loss = self.d_loss_fn(self.real, fake.detach())
    self.d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    self.d_opt.step()
    self.discriminator.requires_grad_(False)
    g_loss = self.g_loss_fn(fake)
    self.g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    self.g_opt.step()
    self.discriminator.requires_grad_(True)
    return float(g_loss.detach())
