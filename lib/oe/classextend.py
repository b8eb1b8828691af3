"""``oe.classextend``: how a BBCLASSEXTEND variant renames the names its recipe refers to.

``native_filter`` is the ``bb.filter`` function native.bbclass applies to DEPENDS and PROVIDES of a
native variant: every name becomes the name of the native recipe (``zlib`` -> ``zlib-native``,
``virtual/gen`` -> ``virtual/gen-native``, ``${PN}-dev`` -> ``${BPN}-dev-native``), so the variant depends
on native recipes only and a ``virtual/`` name resolves among the native providers.
"""

from __future__ import annotations

import bb.filter
import bb.utils


@bb.filter.filter_proc()
def native_filter(val: str, pn: str, bpn: str, regex: bool = False, selfref: bool = True) -> str | None:
    if not val:
        return None
    renamed = []
    for dep in bb.utils.explode_deps(val):
        if regex and dep.startswith("^") and dep.endswith("$"):
            renamed.append(dep if dep.endswith("-native$") else dep[:-1].replace(pn, bpn) + "-native$")
        elif dep == pn:
            if selfref:
                renamed.append(dep)
        elif "-cross-" in dep:
            renamed.append(dep.replace("-cross", "-native"))
        elif dep.endswith("-native"):
            renamed.append(dep)
        else:
            # ${PN}-foo of the variant is ${BPN}-foo-native, not ${BPN}-native-foo-native
            renamed.append(dep.replace(pn, bpn) + "-native")
    return " ".join(renamed)
