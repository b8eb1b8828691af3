# Recipes whose output is the same for every architecture (data, scripts).
PACKAGE_ARCH = "all"
INHIBIT_DEFAULT_DEPS = "1"
