"""Training: patch sampling, augmentation, losses, loop, checkpoints."""
