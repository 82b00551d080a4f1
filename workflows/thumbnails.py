"""Thumbnails of shared images, with Pillow: the thread shows a small preview instead of a bare
file name. Decoding also proves that a file sent as an image is one (its content type is the
client's word)."""

from io import BytesIO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

#: The largest side of a thumbnail, in pixels (a thread shows it at most this wide).
THUMBNAIL_SIDE = 480
#: More pixels than this is refused before decoding: a small file can claim a huge canvas.
MAX_IMAGE_PIXELS = 50_000_000


def thumbnail_of(uploaded) -> ContentFile:
    """A WebP thumbnail of an uploaded image; a ValidationError on `file` if it is not one."""
    uploaded.seek(0)
    try:
        with Image.open(uploaded) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ValidationError({"file": f"Images are limited to {MAX_IMAGE_PIXELS:,} pixels."})
            image = ImageOps.exif_transpose(image)  # first frame only, for an animation
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            if image.mode not in ("RGB", "RGBA"):
                image = image.convert("RGBA")
            out = BytesIO()
            image.save(out, "WEBP", quality=80)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError({"file": "This file is not a readable image."}) from None
    finally:
        uploaded.seek(0)
    return ContentFile(out.getvalue())
