# shellcheck shell=bash
# Shared by scripts/*: where the project's Python lives and how to run commands with it.
#
# The project needs Python >= 3.14.2 (Home Assistant 2026.x). Where the machine has one (PATH,
# pyenv, uv-managed) the venv in .venv uses it directly ("native" mode). Where it has none, a
# root Debian machine gets Debian sid's python3.14 in a private root filesystem
# ("rootfs" mode); commands then run through `wsd_enter`, which chroots into it with the host's
# data directories, the repository and the current directory bind-mounted at the same paths,
# so paths, exit codes, signals, stdio and loopback networking behave as on the host.

WSD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
WSD_VENV="$WSD_ROOT/.venv"
WSD_LOCK="$WSD_ROOT/requirements-dev.lock"
WSD_MODE_FILE="$WSD_VENV/.wsd-mode"
WSD_TOOLCHAIN="${WSD_SCAN_TOOLCHAIN:-/opt/wsd-scan-toolchain}"
WSD_ROOTFS="$WSD_TOOLCHAIN/rootfs"
WSD_MIN_PYTHON="3.14.2"

wsd_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
wsd_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The host directories that hold user data; system directories stay the rootfs' own.
wsd_shared_dirs() {
  local d
  for d in /*; do
    [ -d "$d" ] && [ ! -L "$d" ] || continue
    case "$d" in
      /bin|/boot|/dev|/etc|/lib|/lib32|/lib64|/libx32|/lost+found|/opt|/proc|/run|/sbin|/sys|/usr|/var) ;;
      *) printf '%s\n' "$d" ;;
    esac
  done
  printf '%s\n' "$WSD_ROOT" "$(pwd -P)"
}

# Runs CMD inside the rootfs (see above). Needs root: unshare + chroot.
wsd_enter() {
  [ -x "$WSD_ROOTFS/usr/bin/python3.14" ] || wsd_die "no toolchain at $WSD_ROOTFS: run scripts/setup"
  local dirs
  dirs="$(wsd_shared_dirs | sort -u | tr '\n' ':')"
  exec unshare --mount --propagation private bash -c '
    set -e
    rootfs=$1 dirs=$2 cwd=$3 path=$4; shift 4
    mount -t proc proc "$rootfs/proc"
    mount --rbind /dev "$rootfs/dev"
    mount --rbind /sys "$rootfs/sys"
    IFS=: read -ra shared <<< "$dirs"
    for d in "${shared[@]}"; do
      [ -n "$d" ] || continue
      case "$d" in "$rootfs"|"$rootfs"/*) continue ;; esac
      mkdir -p "$rootfs$d"
      mount --rbind "$d" "$rootfs$d"
    done
    cp -L /etc/resolv.conf /etc/hosts "$rootfs/etc/" 2>/dev/null || true
    exec chroot "$rootfs" /usr/bin/env -u LD_LIBRARY_PATH -u LD_PRELOAD -u PYTHONHOME \
      PATH="$path" UV_SYSTEM_CERTS=1 LANG=C.UTF-8 \
      /bin/bash -c "cd \"\$1\" && shift && exec \"\$@\"" _ "$cwd" "$@"
  ' _ "$WSD_ROOTFS" "$dirs" "$(pwd -P)" "$WSD_VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$@"
}

# Runs CMD with the project's venv first on PATH, natively or through the rootfs.
wsd_exec() {
  [ -f "$WSD_MODE_FILE" ] || wsd_die "the environment is not set up: run scripts/setup"
  if [ "$(cat "$WSD_MODE_FILE")" = rootfs ]; then
    wsd_enter "$@"
  fi
  PATH="$WSD_VENV/bin:$PATH" exec "$@"
}

# Like wsd_exec, but returns the command's status instead of replacing the shell.
wsd_run() { (wsd_exec "$@"); }
