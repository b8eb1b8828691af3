SUMMARY = "Line echo daemon as a portable service"
DESCRIPTION = "The sample daemon lb-echod with its C runtime, as a systemd portable service image. \
Its unit is shipped as demo-portable.service, so portabled attaches it."
HOMEPAGE = "https://example.invalid/layerbuild/demo-portable"
PV = "1.0"

inherit image-portable

IMAGE_INSTALL = "lb-echod"
PORTABLE_UNITS = "lb-echod.service:demo-portable.service"
