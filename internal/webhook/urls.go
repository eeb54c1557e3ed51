package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"danbao/internal/apperr"
	"danbao/internal/clip"
)

var extraBlocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64 (could reach private IPv4)
	// IPv6 forms that carry an IPv4 address to a translator or a tunnel:
	// local-use NAT64 (RFC 8215, meant for private IPv4), 6to4, Teredo
	// and the deprecated IPv4-compatible ::a.b.c.d (:: and ::1 are
	// decided above); and deprecated site-local addresses.
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("fec0::/10"),
}

// allowedIP reports whether a webhook may be sent to ip; loopback only
// when sandbox is on.
func allowedIP(ip netip.Addr, sandbox bool) error {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		if sandbox {
			return nil
		}
		return fmt.Errorf("loopback address %s (allowed only in sandbox mode)", ip)
	case ip.IsPrivate():
		return fmt.Errorf("private address %s", ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return fmt.Errorf("link-local address %s", ip)
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("multicast address %s", ip)
	case ip.IsUnspecified():
		return fmt.Errorf("unspecified address %s", ip)
	}
	for _, p := range extraBlocked {
		if p.Contains(ip) {
			return fmt.Errorf("reserved address %s", ip)
		}
	}
	return nil
}

// CheckURL validates a webhook URL and resolves its host: https (http only
// for a loopback host in sandbox mode), no credentials, and every address
// the host resolves to allowed. Errors: INVALID_INPUT.
func CheckURL(ctx context.Context, raw string, sandbox bool, resolver *net.Resolver) error {
	bad := func(why string) error {
		return apperr.New(apperr.InvalidInput, "webhook URL refused: %s", why).WithField("url")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return bad("not an absolute URL")
	}
	if len(raw) > 2048 {
		return bad("longer than 2048 characters")
	}
	if u.User != nil {
		return bad("credentials in the URL")
	}
	host := u.Hostname()
	addrs, err := resolve(ctx, host, resolver)
	if err != nil {
		return bad("the host does not resolve")
	}
	_, notAnAddress := netip.ParseAddr(host)
	loopback := true
	for _, a := range addrs {
		if err := allowedIP(a, sandbox); err != nil {
			if notAnAddress != nil {
				// A name: what it resolves to inside danbao's network is
				// not the partner's to learn.
				return bad("the host resolves to an address that is not public")
			}
			return bad(err.Error())
		}
		loopback = loopback && a.Unmap().IsLoopback()
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && sandbox && loopback:
	default:
		return bad("the scheme must be https (http only to loopback in sandbox mode)")
	}
	return nil
}

func resolve(ctx context.Context, host string, resolver *net.Resolver) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	ips, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no addresses")
	}
	return ips, nil
}

// errNotPublic is dialControl's refusal.
var errNotPublic = errors.New("the host resolved to an address that is not public")

// attemptError is what the delivery log shows the partner of an attempt
// that got no answer: the network's own errors name addresses (the one a
// name resolved to, danbao's side of the connection, its DNS server), so
// those are told by kind only.
func attemptError(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	var ne net.Error
	switch {
	case errors.Is(err, errNotPublic):
		return "refused to connect: " + errNotPublic.Error()
	case errors.As(err, &dns):
		return "the host name did not resolve"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer within the timeout"
	case errors.As(err, &op) && op.Op == "dial":
		return "could not connect"
	case errors.As(err, &op):
		return "the connection failed (" + op.Op + ")"
	}
	return clip.Bytes(err.Error(), 300)
}

// dialControl refuses, at connect time, an address that is not allowed:
// the host may resolve differently now than at registration.
func dialControl(sandbox bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("webhook: dialing %s: %w", address, err)
		}
		if allowedIP(ap.Addr(), sandbox) != nil {
			return errNotPublic
		}
		return nil
	}
}
