package obs

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies (load balancers, ingress) in front of
// danbao whose X-Forwarded-For it believes (DANBAO_TRUSTED_PROXIES). With
// none, the client address is the TCP peer's and the header is ignored:
// anyone can write it.
type Proxies []netip.Prefix

func (ps Proxies) trusted(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddress returns the address r came from. That is the TCP peer,
// unless the peer is one of ps: then it is the right-most address of
// X-Forwarded-For (all its lines, in order) that is not itself one of ps,
// walking from the right, since each proxy appends the address it was
// reached from and only the entries the trusted proxies appended can be
// believed (what the client sent itself is on their left). An entry that
// is not an address (garbage, "unknown", an obfuscated identifier) stops
// the walk at the last trusted hop; a request whose every hop is trusted
// (a health check from the proxy itself) comes from the left-most of them.
// "" when the peer's address cannot be read.
func (ps Proxies) ClientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || len(ps) == 0 {
		return host
	}
	client := peer.Unmap()
	if !ps.trusted(client) {
		return host
	}
	lines := r.Header.Values("X-Forwarded-For")
	for i := len(lines) - 1; i >= 0; i-- {
		entries := strings.Split(lines[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a, ok := forwardedAddr(entries[j])
			if !ok {
				return client.String()
			}
			client = a
			if !ps.trusted(a) {
				return a.String()
			}
		}
	}
	return client.String()
}

// forwardedAddr reads one X-Forwarded-For entry: an address, possibly
// with a port ("192.0.2.1:4711", "[2001:db8::1]:4711") or in brackets.
func forwardedAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Zone() == "" {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}
