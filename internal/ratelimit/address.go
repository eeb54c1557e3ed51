package ratelimit

import "net/netip"

// nat64 is the well-known prefix of IPv4 addresses translated to IPv6
// (RFC 6052): its /64 is every IPv4 client, not one.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// AddressKey is the client address budgets are kept for: an IPv4 address,
// or the /64 of an IPv6 one (a single client holds a whole /64, and would
// otherwise have 2^64 budgets).
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	if nat64.Contains(a) { // an IPv4 client through a translator: its own address
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[12:])).String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}
