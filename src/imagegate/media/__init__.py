"""Image handling that is not provider-specific.

- ``sizes``: size / aspect ratio / resolution mapping onto an offer's capabilities (``map_size``, ``pixel_size``).
- ``inspect``: validation of uploads (format, pixel limit, corruption) and masks.
- ``convert``: output normalisation (format, compression, base64 pass-through).
- ``formats``: MIME types and magic-number sniffing.
"""
