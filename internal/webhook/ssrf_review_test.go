package webhook

import (
	"context"
	"net/netip"
	"testing"
)

// TestReviewIPv6FormsOfPrivateIPv4: IPv6 addresses that carry an IPv4
// address inside them reach that IPv4 address through a translator or a
// tunnel: the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215, meant for
// translating to private IPv4, unlike the well-known 64:ff9b::/96 the
// package already refuses), 6to4 (2002::/16) and the deprecated
// IPv4-compatible form (::a.b.c.d). Each here embeds 10.0.0.1 or
// 169.254.169.254 (cloud metadata); all must be refused, at registration
// and on the dialed address, like the IPv4 address itself.
func TestReviewIPv6FormsOfPrivateIPv4(t *testing.T) {
	ctx := context.Background()
	for _, a := range []string{
		"64:ff9b::a00:1",       // well-known NAT64 (refused today: the control case)
		"64:ff9b:1::a00:1",     // local-use NAT64 -> 10.0.0.1
		"64:ff9b:1::a9fe:a9fe", // local-use NAT64 -> 169.254.169.254
		"2002:a00:1::1",        // 6to4 of 10.0.0.1
		"2002:a9fe:a9fe::1",    // 6to4 of 169.254.169.254
		"::a00:1",              // IPv4-compatible 10.0.0.1
		"fec0::1",              // site-local (deprecated, private by RFC 3513)
	} {
		if err := CheckURL(ctx, "https://["+a+"]/hook", false, nil); err == nil {
			t.Errorf("registration accepted https://[%s]/hook", a)
		}
		if err := dialControl(false)("tcp6", netip.AddrPortFrom(netip.MustParseAddr(a), 443).String(), nil); err == nil {
			t.Errorf("dial to [%s]:443 allowed", a)
		}
	}
	// Loopback in the sandbox is still allowed, and ::1 still refused outside it.
	if err := allowedIP(netip.MustParseAddr("::1"), true); err != nil {
		t.Errorf("sandbox ::1: %v", err)
	}
	if allowedIP(netip.MustParseAddr("::1"), false) == nil {
		t.Error("::1 allowed outside the sandbox")
	}
}
