# shellcheck shell=bash
# Sourced by the benchmarks: the laptop's network, a namespace whose one link (a veth pair,
# NET.1 on this side, NET.2 inside) leads to this machine, where bench/delay.py forwards to
# the login node. The test cluster listens on 127.0.0.1, out of the namespace's reach: every
# byte to it goes through the forwarder, which delays and counts it.
laptop_ns() { # namespace veth-prefix net-prefix (e.g. 10.231.7.)
  ip netns add "$1"
  ip link add "${2}a" type veth peer name "${2}b"
  ip link set "${2}b" netns "$1"
  ip addr add "${3}1/30" dev "${2}a"
  ip link set "${2}a" up
  ip netns exec "$1" ip addr add "${3}2/30" dev "${2}b"
  ip netns exec "$1" ip link set "${2}b" up
  ip netns exec "$1" ip link set lo up
}

laptop_ns_del() { # namespace veth-prefix
  ip netns del "$1" 2>/dev/null || true
  ip link del "${2}a" 2>/dev/null || true
}
