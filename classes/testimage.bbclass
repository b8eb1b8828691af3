# testimage: `layerbuild -c testimage IMAGE` boots what was built in a subhost (layerbuild-boot) and
# runs the Python test suites TEST_SUITES names (lib/testimage/NAME.py in any layer). Every test's
# outcome goes to the task log and to the JUnit XML report TESTIMAGE_REPORT; a failed test fails the
# task. See docs/testimage.md.

TEST_SUITES ?= "basic"
# services to start besides the image's own (a portable image starts its units)
TEST_START_SERVICES ?= ""
TESTIMAGE_KIND ?= "image"
TESTIMAGE_RAM_SIZE ?= "50M"
# a veth cable to the subhost (default: for portable service images)
TESTIMAGE_CABLE ?= ""
TESTIMAGE_REPORT ?= "${DEPLOY_DIR_IMAGE}/${PN}-${MACHINE}.testimage.xml"

python do_testimage() {
    run_builtin("testimage", d)
}
do_testimage[nostamp] = "1"
addtask testimage after do_image_complete
