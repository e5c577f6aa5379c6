#!/usr/bin/env bash
# The 20-step checksums of four configs (issue 22's redesign must keep them bitwise):
#   bash tools/checksums.sh [OUTDIR]
# prints "<config> <SHA-256 of the final state>" from each run's checkpoint meta.
set -euo pipefail
out=${1:-$(mktemp -d)}
for c in dcgan_mnist_seed dcgan_mnist toy_ring mlp_gan_mnist; do
  rm -rf "$out/$c"
  python -m experiments.train --workdir "$out/$c" --config "experiments/configs/$c.py" \
      --config.num_steps=20 --config.sample_every=0 > "$out/$c.log" 2>&1
  python -c "import json,sys; print(sys.argv[1], json.load(open(sys.argv[2]))['checksum'])" \
      "$c" "$out/$c/checkpoints/20/meta/metadata"
done
