"""Root file systems with a dpkg database, assembled from a feed of ``.deb`` files.

``feed`` (the packages), ``control`` (stanzas and relationships), ``resolve`` (what to install, in
which order), ``unpack`` (data archives into the root), ``scripts`` (maintainer scripts, first-boot
deferral), ``dpkgdb`` (dpkg's database), ``manifest`` (the image manifest) and ``assemble``
(:func:`~layerbuild.rootfs.assemble.build_rootfs`, the entry point).
"""
