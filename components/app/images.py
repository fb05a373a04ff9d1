"""The app's images as pulled through the stack's image mirror (platform.imageMirror).

The mirror is a platform setting because it serves the charts' images too; the platform hands
it over in its interface, and every image the app runs goes through it here, in one place.
"""

from __future__ import annotations

from components.app.config import AppConfig, Image
from components.platform.mirrors import Mirrors


def _through(image: Image, mirrors: Mirrors) -> Image:
    return image.model_copy(update={"repository": mirrors.image(image.repository)})


def mirrored(settings: AppConfig, mirrors: Mirrors) -> AppConfig:
    """`settings` with every image repository rewritten to the mirror (unchanged without one)."""
    if mirrors.image_mirror is None:
        return settings

    def section(config):
        return config.model_copy(update={"image": _through(config.image, mirrors)})

    return settings.model_copy(update={
        "backend": section(settings.backend),
        "frontend": section(settings.frontend),
        "postgres": section(settings.postgres),
        "redis": section(settings.redis),
        "backups": settings.backups.model_copy(update={"job_image": _through(settings.backups.job_image, mirrors)}),
    })
