"""Parse-time events reach addhandler handlers as BitBake calls them: handler(e, d), with e.fn."""

from __future__ import annotations

from pathlib import Path

from conftest import Runner, make_build, make_layer

HANDLER = '''python seen_handler() {
    d.appendVar("SEEN", " %s:%s" % (bb.event.getName(e) if hasattr(bb.event, "getName") else type(e).__name__,
                                    os.path.basename(e.fn)))
}
addhandler seen_handler
seen_handler[eventmask] = "bb.event.RecipePreDeferredInherits bb.event.RecipeParsed"
'''


def test_handlers_get_event_and_datastore(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "ev", {"classes/seen.bbclass": HANDLER,
                                        "recipes/foo/foo_1.0.bb": "inherit seen\n"})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    assert 'SEEN=" RecipePreDeferredInherits:foo_1.0.bb RecipeParsed:foo_1.0.bb"' in out.splitlines()
