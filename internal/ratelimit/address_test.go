package ratelimit

import "testing"

// TestAddressKeyNAT64: an address in the NAT64 well-known prefix
// 64:ff9b::/96 (RFC 6052) is an IPv4 client seen through a translator (an
// IPv6-only deployment behind SIIT-DC / NAT46): its /64 holds every IPv4
// address there is, so keying it by /64 puts every IPv4 client in one
// sign-in and mutation budget, which one client can use up for all. Such
// an address counts as its IPv4 address.
func TestAddressKeyNAT64(t *testing.T) {
	a, b := AddressKey("64:ff9b::cb00:7101"), AddressKey("64:ff9b::c633:6401") // 203.0.113.1, 198.51.100.1
	if a == b {
		t.Fatalf("two IPv4 clients behind NAT64 share the budget key %q", a)
	}
	if got := AddressKey("64:ff9b::cb00:7101"); got != "203.0.113.1" {
		t.Errorf("64:ff9b::203.0.113.1 keyed %q, want 203.0.113.1", got)
	}
	// Native IPv6 still counts per /64.
	if AddressKey("2001:db8:1:2::1") != AddressKey("2001:db8:1:2::ffff") {
		t.Error("one /64 has two keys")
	}
}
