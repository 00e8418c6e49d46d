"""Source images for the thumbnail jobs: one photograph and seeded drawings.

Every tenth job uses the portrait of Grace Hopper that matplotlib ships among
its sample data; the others are drawn with Pillow from ``(seed, index)``, so
the same seed always gives the same pictures, in sizes from 200 to 800
pixels a side.
"""

from __future__ import annotations

import io
import random
from functools import lru_cache

__all__ = ["make_image", "sample_photo"]

PHOTO_EVERY = 10


@lru_cache(maxsize=1)
def sample_photo() -> bytes:
    """The JPEG bytes of matplotlib's ``grace_hopper.jpg`` sample image."""
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with open(path, "rb") as file:
        return file.read()


def make_image(seed: int, index: int) -> bytes:
    """The JPEG bytes of job ``index``'s source image under ``seed``."""
    if index % PHOTO_EVERY == 0:
        return sample_photo()
    from PIL import Image, ImageDraw

    rng = random.Random(seed * 1_000_003 + index)
    width, height = rng.randint(200, 800), rng.randint(200, 800)
    image = Image.new("RGB", (width, height), _colour(rng))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 12)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = rng.randint(x0, width), rng.randint(y0, height)
        draw.ellipse((x0, y0, x1, y1), fill=_colour(rng))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)
