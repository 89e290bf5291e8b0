"""Online update: adapt a deraining network to real rainy images without ground truth (see :mod:`.updater`)."""

from derain_cli.online.images import RealImage, load_real_images, output_jobs, sample_patches, small_image_notes
from derain_cli.online.prior import SyntheticRain, rain_kl, soft_histogram
from derain_cli.online.updater import OnlineUpdater, UpdateOptions, check_output_folder, learning_rate

__all__ = [
    "OnlineUpdater", "RealImage", "SyntheticRain", "UpdateOptions", "check_output_folder", "learning_rate",
    "load_real_images", "output_jobs", "rain_kl", "sample_patches", "small_image_notes", "soft_histogram",
]  # fmt: skip
