package node

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"sync"
)

// IPAllocator hands out pod IPs from a loopback range, shared by every node
// of one environment. A pod's address is derived from its namespace and
// name, so a pod that comes back (a StatefulSet's, or after its node
// restarts) gets the address it had, unless another pod holds it.
type IPAllocator struct {
	mu     sync.Mutex
	prefix netip.Prefix
	used   map[netip.Addr]string
}

// NewIPAllocator allocates from prefix, which must be inside 127.0.0.0/8.
func NewIPAllocator(prefix string) (*IPAllocator, error) {
	p, err := netip.ParsePrefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("pod IP range %q: %w", prefix, err)
	}
	if !netip.MustParsePrefix("127.0.0.0/8").Contains(p.Addr()) || p.Bits() < 8 || p.Bits() > 24 {
		return nil, fmt.Errorf("pod IP range %s must be a /8 to /24 inside 127.0.0.0/8", prefix)
	}
	return &IPAllocator{prefix: p.Masked(), used: map[netip.Addr]string{}}, nil
}

// Allocate gives owner (a pod's UID) an address: the one derived from name
// (namespace/name) when free, else the next free one.
func (a *IPAllocator) Allocate(name, owner string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	size := uint32(1) << (32 - a.prefix.Bits())
	h := fnv.New32a()
	h.Write([]byte(name))
	start := h.Sum32() % size
	base := a.prefix.Addr().As4()
	b := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	for i := uint32(0); i < size; i++ {
		off := (start + i) % size
		v := b + off
		if v&0xff == 0 || v&0xff == 0xff {
			continue // no .0 or .255, to avoid surprises
		}
		addr := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		if holder, ok := a.used[addr]; ok && holder != owner {
			continue
		}
		a.used[addr] = owner
		return addr.String(), nil
	}
	return "", fmt.Errorf("pod IP range %s is full", a.prefix)
}

// Release frees an address held by owner.
func (a *IPAllocator) Release(addr, owner string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return
	}
	if a.used[ip] == owner {
		delete(a.used, ip)
	}
}
