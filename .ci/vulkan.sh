#!/usr/bin/env bash
# Install a software Vulkan driver (Mesa lavapipe) so onnxruntime-node's WebGPU EP (Dawn) has an adapter on
# GPU-less Debian bookworm machines (CI, dev containers).
#
# bookworm's own mesa-vulkan-drivers (22.3) is too old for Dawn; bookworm-backports ships Mesa 25.x. The script
# enables the backports suite in the machine's EXISTING Debian apt source (whatever mirror/snapshot it points at),
# installs the Vulkan loader and Mesa's drivers, and checks that lavapipe is registered.
#
# Idempotent; runs as root; needs no network besides the configured Debian apt mirror.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "vulkan.sh: must run as root" >&2
  exit 1
fi

. /etc/os-release
if [[ ${VERSION_CODENAME:-} != bookworm ]]; then
  echo "vulkan.sh: written for Debian bookworm, found '${VERSION_CODENAME:-unknown}'; continuing anyway" >&2
fi
codename="${VERSION_CODENAME:-bookworm}"
backports="${codename}-backports"

# --- 1. Enable backports in the existing Debian source --------------------------------------------------------------
enable_backports() {
  local f
  # deb822 sources (Debian 12 containers: /etc/apt/sources.list.d/debian.sources).
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    if grep -Eq "^Suites:.*[[:space:]]${backports}([[:space:]]|$)" "$f"; then
      echo "vulkan.sh: ${backports} already enabled in $f"
      return 0
    fi
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # Append to the Suites: line that lists the plain release (not -security / -updates only stanzas).
    if grep -Eq "^Suites:(.*[[:space:]])?${codename}([[:space:]]|$)" "$f"; then
      sed -i -E "/^Suites:(.*[[:space:]])?${codename}([[:space:]]|$)/ s/[[:space:]]*$/ ${backports}/" "$f"
      echo "vulkan.sh: added ${backports} to $f"
      return 0
    fi
  done
  # One-line-style sources.list: duplicate the main release line with the backports suite.
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    if grep -Eq "^deb[[:space:]].*[[:space:]]${backports}[[:space:]]" "$f"; then
      echo "vulkan.sh: ${backports} already enabled in $f"
      return 0
    fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    local line
    line=$(grep -Em1 "^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+[[:space:]]+${codename}[[:space:]]" "$f" || true)
    if [[ -n $line ]]; then
      printf '%s\n' "$line" | sed -E "s/[[:space:]]${codename}[[:space:]]/ ${backports} /" >>"$f"
      echo "vulkan.sh: added ${backports} to $f"
      return 0
    fi
  done
  echo "vulkan.sh: no Debian apt source for '${codename}' found to extend" >&2
  return 1
}
enable_backports

# --- 2. Install the loader and Mesa's Vulkan drivers from backports -------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends libvulkan1
apt-get install -y --no-install-recommends -t "$backports" mesa-vulkan-drivers
# vulkan-tools (vulkaninfo) is only used for the check below; failure to get it is not fatal.
apt-get install -y --no-install-recommends vulkan-tools || true

# --- 3. Check ------------------------------------------------------------------------------------------------------
icd=$(ls /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -n1 || true)
if [[ -z $icd ]]; then
  echo "vulkan.sh: lavapipe ICD json not found under /usr/share/vulkan/icd.d" >&2
  exit 1
fi
echo "vulkan.sh: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers:"$(dpkg --print-architecture)")"
echo "vulkan.sh: lavapipe ICD: $icd"
if command -v vulkaninfo >/dev/null 2>&1; then
  VK_ICD_FILENAMES="$icd" vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverInfo|apiVersion' || true
fi
