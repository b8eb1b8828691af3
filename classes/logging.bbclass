# Shell helpers every task can call, as in OE: messages go to the task log.

bbnote() {
    echo "NOTE: $*"
}

bbwarn() {
    echo "WARNING: $*"
}

bbfatal() {
    echo "ERROR: $*"
    exit 1
}

die() {
    bbfatal "$*"
}
