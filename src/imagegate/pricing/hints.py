"""Expected image tokens from an offer's estimate hints (for estimates, and for calls whose provider reported none)."""

from __future__ import annotations

from imagegate.catalog.schema import EstimateHints


def output_tokens_per_image(
    hints: EstimateHints, *, resolution: str | None, quality: str | None = None, size: str | None = None
) -> int:
    """Expected tokens per output image.

    Hint keys are a resolution tier ("2K"), a size ("1024x1024"), a quality ("high") or "<quality>:<size>".
    The most precise key present wins; when the call leaves a dimension open (no quality, an unknown size),
    the most expensive matching entry is taken, so an estimate errs on the high side.
    """
    table = hints.output_image_tokens
    if not table:
        return 0
    quality = quality.lower() if quality and quality.lower() != "auto" else None
    size = size.lower() if size and size.lower() != "auto" else None
    for key in (f"{quality}:{size}" if quality and size else None, resolution, size, quality):
        if key and key in table:
            return table[key]
    matching = [
        tokens for key, tokens in table.items()
        if (quality is None or key.startswith(f"{quality}:")) and (size is None or key.endswith(f":{size}"))
    ]  # fmt: skip
    return max(matching or table.values())
