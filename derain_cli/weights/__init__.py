"""Named checkpoints (weights.toml): registry, verified downloads, conversion and publishing."""
