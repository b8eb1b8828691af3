# utility-tasks: clean, cleansstate and cleanall, with OE's meaning (docs/tasks.md). They are nostamp
# and nothing depends on them: they run only when asked for (layerbuild -c clean RECIPE), never in a
# build, for every recipe, images included.
#
# do_clean removes WORKDIR, the recipe's stamps and what its shared-state tasks installed (deploy
# directories, sysroot components, pkgdata, the packages in the feed); do_cleansstate also removes its
# objects from SSTATE_DIR, so the next build cannot restore them; do_cleanall also removes its downloads
# from DL_DIR (bb.fetch2's Fetch.clean(): http(s) files and git mirrors; never file:// sources).

# their logs live outside the WORKDIR they remove
T:task-clean = "${LOG_DIR}/cleanlogs/${PN}"
T:task-cleansstate = "${LOG_DIR}/cleanlogs/${PN}"
T:task-cleanall = "${LOG_DIR}/cleanlogs/${PN}"

CLEANFUNCS ?= ""

addtask clean
do_clean[nostamp] = "1"
do_clean[dirs] = "${T}"
python do_clean() {
    clean_recipe(d)
    for func in (d.getVar("CLEANFUNCS") or "").split():
        bb.build.exec_func(func, d)
}

addtask cleansstate after do_clean
do_cleansstate[nostamp] = "1"
do_cleansstate[dirs] = "${T}"
python do_cleansstate() {
    sstate_clean_cachefiles(d)
}

addtask cleanall after do_cleansstate
do_cleanall[nostamp] = "1"
do_cleanall[dirs] = "${T}"
python do_cleanall() {
    src_uri = (d.getVar("SRC_URI") or "").split()
    if src_uri:
        bb.fetch2.Fetch(src_uri, d).clean()
}
