"""Image writers: file-system images assembled from a manifest, without root or host tools."""
