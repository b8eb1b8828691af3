"""``bb.compress``: compressed files metadata reads and writes (``bb.compress.zstd``)."""
