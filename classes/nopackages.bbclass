# For recipes that build nothing to package (indexes, images): no sysroot, no packages.
deltask do_fetch
deltask do_unpack
deltask do_patch
deltask do_prepare_recipe_sysroot
deltask do_configure
deltask do_compile
deltask do_install
deltask do_populate_sysroot
deltask do_package
deltask do_package_write_deb
deltask do_populate_lic
PACKAGES = ""
INHIBIT_DEFAULT_DEPS = "1"
