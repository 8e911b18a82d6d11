"""The JSON shape of a photo, shared by the media API and the recognition API."""

from pydantic import BaseModel, Field

from app.media import service
from app.media.models import MediaImage


class VariantOut(BaseModel):
    width: int
    height: int
    format: str = Field(description="`webp`, or `jpg` for clients without WebP")
    url: str = Field(description="Served to the owner and to whoever may see where it is used")


class MediaOut(BaseModel):
    id: int
    width: int = Field(description="Of the largest variant, upright")
    height: int
    alt: str
    variants: list[VariantOut]


def media_out(image: MediaImage) -> MediaOut:
    return MediaOut(
        id=image.id or 0,
        width=image.width,
        height=image.height,
        alt=image.alt,
        variants=[
            VariantOut(
                width=v["width"],
                height=v["height"],
                format=v["format"],
                url=service.variant_url(image, v["width"], v["format"]),
            )
            for v in sorted(image.variants, key=lambda v: (v["width"], v["format"]))
        ],
    )
