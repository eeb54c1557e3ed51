package obs

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddress(t *testing.T) {
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		proxies Proxies
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies: the peer, the header ignored", nil, "203.0.113.7:4000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"untrusted peer: a forged header is ignored", proxies, "203.0.113.7:4000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted peer without the header", proxies, "10.0.0.5:4000", nil, "10.0.0.5"},
		{"trusted peer: the address it appended", proxies, "10.0.0.5:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"what the client wrote itself stays on the left", proxies, "10.0.0.5:4000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops are skipped", proxies, "10.0.0.5:4000", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9, fd00::7"}, "198.51.100.1"},
		{"several header lines read as one list", proxies, "10.0.0.5:4000", []string{"6.6.6.6", "198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"every hop trusted: the left-most", proxies, "10.0.0.5:4000", []string{"10.7.7.7, 10.8.8.8"}, "10.7.7.7"},
		{"garbage stops at the last trusted hop", proxies, "10.0.0.5:4000", []string{"198.51.100.1, unknown, 10.8.8.8"}, "10.8.8.8"},
		{"garbage right after the peer", proxies, "10.0.0.5:4000", []string{"198.51.100.1, <script>"}, "10.0.0.5"},
		{"an empty entry is garbage", proxies, "10.0.0.5:4000", []string{"198.51.100.1,"}, "10.0.0.5"},
		{"IPv6 client behind an IPv6 proxy", proxies, "[fd00::1]:4000", []string{"2001:db8::42"}, "2001:db8::42"},
		{"ports and brackets", proxies, "10.0.0.5:4000", []string{"[2001:db8::42]:5555, 10.1.1.1:80"}, "2001:db8::42"},
		{"bracketed address without a port", proxies, "10.0.0.5:4000", []string{"[2001:db8::43]"}, "2001:db8::43"},
		{"IPv4-mapped entries are IPv4", proxies, "10.0.0.5:4000", []string{"::ffff:198.51.100.9, ::ffff:10.1.1.1"}, "198.51.100.9"},
		{"IPv4-mapped peer is trusted as its IPv4", proxies, "[::ffff:10.0.0.5]:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a zone is not an address", proxies, "10.0.0.5:4000", []string{"fe80::1%eth0"}, "10.0.0.5"},
		{"unreadable peer", proxies, "not-an-address", []string{"198.51.100.1"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tc.proxies.ClientAddress(r); got != tc.want {
				t.Fatalf("ClientAddress = %q, want %q", got, tc.want)
			}
		})
	}
}
