# Sourced by the CI install scripts: `need_root_and_apt WHAT` exits 2 with a message naming WHAT
# when the script is not root or apt-get is missing (both scripts need them to install packages).
need_root_and_apt() {
    if [ "$(id -u)" != 0 ]; then
        echo "cannot install $1: not root" >&2
        exit 2
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "cannot install $1: apt-get not available" >&2
        exit 2
    fi
}
