# Sourced by the scripts that run a built `genzoo`: their argument check, the binary they run, the machine it ran on.

# Prints the calling script's header comment (its usage) and exits 2 when it got fewer than NEEDED arguments.
#   usage_unless NEEDED "$#"
usage_unless() {
  if [ "$2" -lt "$1" ]; then
    sed -n '2,/^[^#]/p' "$0" | sed -n '/^#/s/^# \{0,1\}//p'
    exit 2
  fi
}

# Sets `genzoo` to the absolute path of the executable PATH, or exits 2 naming it.
#   genzoo_binary PATH
genzoo_binary() {
  genzoo=$(realpath "$1" 2>/dev/null) || genzoo=$1
  [ -x "$genzoo" ] || { echo "not an executable: $1" >&2; exit 2; }
}

# The first lines of OUT/machine.txt: date (UTC), the binary and its version, GPU and driver, CPU model and cores.
machine_record() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "genzoo: $genzoo ($("$genzoo" --version 2>&1 | head -1))"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: none"
  grep -m1 'model name' /proc/cpuinfo
  echo "cores: $(nproc)"
}
