# base: inherited by every recipe. Defines the standard task chain; later classes fill in the
# tasks (build classes for configure/compile/install, packaging for package and package_write_deb).

addtask fetch
addtask unpack after do_fetch
addtask patch after do_unpack
addtask configure after do_patch
addtask compile after do_configure
addtask install after do_compile
addtask populate_sysroot after do_install
addtask package after do_install
addtask package_write_deb after do_package
addtask build after do_populate_sysroot do_package_write_deb

do_build[noexec] = "1"
do_build[recrdeptask] += "do_deploy"
