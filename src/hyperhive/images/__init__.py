"""Agent images: Debian trees built with mmdebstrap that agents' sandboxes use as their root. See
docs/images.md."""

from .builder import ImageBuildError, build_image
from .inputs import FORMAT_VERSION, ImageInputs, host_apt_default
from .service import IMAGE_DIR_ENV, ImagePlan, ImageService, image_dir, plan_images
from .store import ImageInfo, ImageStore

__all__ = ["FORMAT_VERSION", "IMAGE_DIR_ENV", "ImageBuildError", "ImageInfo", "ImageInputs", "ImagePlan",
           "ImageService", "ImageStore", "build_image", "host_apt_default", "image_dir", "plan_images"]
