SUMMARY = "Line echo daemon as a portable service"
DESCRIPTION = "The sample daemon lb-echod with its C runtime, as a systemd portable service image. \
Its unit is shipped as demo-portable.service, so portabled attaches it."
HOMEPAGE = "https://example.invalid/layerbuild/demo-portable"
PV = "1.0"

inherit image-portable

IMAGE_INSTALL = "lb-echod"
PORTABLE_UNITS = "lb-echod.service:demo-portable.service"

# the tests reach the daemon over the subhost's cable, so it listens on every address of its namespace
TESTIMAGE_ENVIRONMENT[demo-portable.service] = "LB_ECHOD_ADDRESS=0.0.0.0"
