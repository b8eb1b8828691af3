SUMMARY = "Development and debugging tools as a systemd system extension of some-core-image"
DESCRIPTION = "Built against the package database of some-core-image: an SSH server (dropbear, with its \
units), a packet analyser (tcpdump), a network benchmark (iperf3) and a system call tracer (strace), with \
the libraries they need that the base lacks (zlib, libpcap), and nothing the base already has (not the \
C runtime). Merged onto a running base, it adds the tools without changing the base image."

inherit image-sysext

IMAGE_BASE_PKGDB = "some-core-image"
IMAGE_INSTALL = "dropbear tcpdump iperf3 strace"

# the tests boot the base with the extension merged, start the SSH server and reach it over a cable
TEST_SUITES = "basic sysext debugtools"
TEST_START_SERVICES = "dropbear.service"
TESTIMAGE_CABLE = "1"
