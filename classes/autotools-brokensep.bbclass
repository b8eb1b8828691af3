# autotools-brokensep: autotools for projects whose build does not work in a separate directory (B = S).
inherit autotools
B = "${S}"
