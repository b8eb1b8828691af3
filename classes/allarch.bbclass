# Recipes whose output is the same for every architecture (data, scripts).
PACKAGE_ARCH = "all"
INHIBIT_DEFAULT_DEPS = "1"

# As OE's (oe.utils.make_arch_independent): the machine's architecture and toolchain are set to one value
# for every machine, so an allarch recipe's signatures, work directory, stamps and sstate objects are
# the same whichever machine builds it, and the second machine reuses the first one's output. Only when
# the recipe is still allarch (a recipe may inherit the class and set its own PACKAGE_ARCH after).
python () {
    if d.getVar("PACKAGE_ARCH") == "all":
        for var, value in (("baselib", "lib"), ("TARGET_ARCH", "allarch"), ("TARGET_OS", "linux"),
                           ("TARGET_PREFIX", ""), ("DPKG_ARCH", "all"), ("PACKAGE_EXTRA_ARCHS", ""),
                           ("INHIBIT_PACKAGE_STRIP", "1")):
            d.setVar(var, value)
}
