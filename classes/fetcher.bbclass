# fetcher: do_fetch, do_unpack and do_patch for SRC_URI (see docs/fetching.md).
# do_fetch downloads into DL_DIR and checks checksums, do_unpack puts every entry into a fresh
# ${UNPACKDIR}, do_patch applies the .patch/.diff entries to ${S} in order.

python fetcher_do_fetch() {
    run_builtin("fetch", d)
}

python fetcher_do_unpack() {
    run_builtin("unpack", d)
}

python fetcher_do_patch() {
    run_builtin("patch", d)
}

EXPORT_FUNCTIONS do_fetch do_unpack do_patch

do_fetch[dirs] = "${DL_DIR}"
do_fetch[file-checksums] = "${@bb.fetch2.get_checksum_file_list(d)}"
# the checksums are flags of SRC_URI, which a signature does not see: name them, so changing one refetches
FETCHER_CHECKSUMS = "${@' '.join('%s=%s' % (k, v) for k, v in sorted((d.getVarFlags('SRC_URI') or {}).items()) if k.endswith('sha256sum'))}"
do_fetch[vardeps] += "SRCREV FETCHER_CHECKSUMS"
do_fetch[network] = "1"
do_unpack[dirs] = "${UNPACKDIR}"
do_unpack[cleandirs] = "${UNPACKDIR}"
do_patch[dirs] = "${UNPACKDIR}"
