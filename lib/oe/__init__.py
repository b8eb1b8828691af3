"""The ``oe`` namespace of layerbuild's core layer: the parts of OpenEmbedded's library its classes use,
under OE's names, so that classes written for OE-core read the same here (``addpylib`` in layer.conf)."""

BBIMPORTS = ["classextend", "license", "utils"]
