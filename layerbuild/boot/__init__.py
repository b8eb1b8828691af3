"""overlay-boot subhosts: an image rootfs booted on an overlay in fresh namespaces (``layerbuild-boot``)."""
