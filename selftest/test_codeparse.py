"""codeparse: the variables and functions shell and python bodies refer to (over-approximated, never missed)."""

from __future__ import annotations

from layerbuild.engine.codeparse import expression_refs, python_refs, shell_words


def test_shell_words_are_every_name_like_word() -> None:
    words = shell_words('oe_runmake -C "${S}" install DESTDIR=${D}\nfor f in *.so; do my-helper.sh $f; done\n')
    assert {"oe_runmake", "S", "install", "DESTDIR", "D", "my-helper.sh", "for", "f", "do", "done"} <= words
    assert "-C" not in words and "*.so" not in words
    assert shell_words("") == frozenset()


def test_python_refs_reads_calls_and_expansions() -> None:
    body = (
        "    pn = d.getVar('PN')\n"
        "    flag = d.getVarFlag(\"SRC_URI\", 'sha256sum')\n"
        "    flags = d.getVarFlags('do_install')\n"
        "    if bb.utils.contains('DISTRO_FEATURES', 'systemd', True, False, d):\n"
        "        helper(d)\n"
        "    bb.build.exec_func('do_other', d)\n"
        "    path = d.expand('${WORKDIR}/x')\n"
        "    name = d.getVar(pn + '_X')\n"  # not a literal: nothing to record
        "    d.setVar('WRITTEN', '1')\n"
    )
    reads, calls, expands, asked = python_refs(body)
    assert reads == {"PN", "SRC_URI", "do_install"}
    assert asked == {("DISTRO_FEATURES", "systemd")}  # a question, not a read (BitBake's code parser)
    assert {"helper", "do_other"} <= calls
    assert expands == {"${WORKDIR}/x"}


def test_python_refs_of_a_whole_def() -> None:
    reads, calls, _, _ = python_refs("def my_func(d):\n    return other(d.getVar('A'))\n")
    assert reads == {"A"} and "other" in calls


def test_python_refs_of_unparsable_code_falls_back_to_string_arguments() -> None:
    reads, calls, expands, asked = python_refs("    if d.getVar('A') ==:\n        d.getVar(\"B\")\n")
    assert reads == {"A", "B"}
    assert calls == frozenset() and expands == frozenset() and asked == frozenset()


def test_results_are_cached() -> None:
    text = "    d.getVar('CACHED')\n"
    assert python_refs(text) is python_refs(text)
    assert shell_words("echo ${CACHED}") is shell_words("echo ${CACHED}")


def test_expression_refs_tell_questions_from_reads() -> None:
    code = "bb.utils.contains('DISTRO_FEATURES', 'x11 wayland', 'g', '', d) + d.getVar('PN') + " \
           "bb.utils.contains_any('MACHINE_FEATURES', 'wifi bt', 'n', '', d) + oe.utils.contains('OTHER', 'y', 1, 0, d)"
    reads, asked = expression_refs(code)
    # only bb.utils's helpers (and base_contains) are questions, as in BitBake's code parser
    assert reads == ("PN", "OTHER")
    assert set(asked) == {("DISTRO_FEATURES", "x11 wayland"), ("MACHINE_FEATURES", "wifi"), ("MACHINE_FEATURES", "bt")}
    assert expression_refs("d.getVar('A') + d.getVar('B')") == (("A", "B"), ())
    # a question about a variable read too: both
    assert expression_refs("d.getVar('A') or bb.utils.contains('A', 'z', 1, 0, d)") == (("A",), (("A", "z"),))
