package self

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		ls      []Listener
		host    string
		want    Addrs
		wantErr string
	}{
		{name: "bound address advertised as is",
			ls:   []Listener{{Network: "UDP", Addr: "192.0.2.7:5060"}, {Network: "tls", Addr: "[2001:db8::7]:5061"}},
			want: Addrs{{Network: "udp", Host: "192.0.2.7", Bound: "192.0.2.7", Port: 5060}, {Network: "tls", Host: "2001:db8::7", Bound: "2001:db8::7", Port: 5061}}},
		{name: "host ignored for a specific bind",
			ls: []Listener{{Network: "tcp", Addr: "127.0.0.1:5070"}}, host: "pbx.example",
			want: Addrs{{Network: "tcp", Host: "127.0.0.1", Bound: "127.0.0.1", Port: 5070}}},
		{name: "unspecified IPv4 advertises host",
			ls: []Listener{{Network: "udp", Addr: "0.0.0.0:5060"}}, host: "pbx.example",
			want: Addrs{{Network: "udp", Host: "pbx.example", Bound: "0.0.0.0", Port: 5060}}},
		{name: "unspecified IPv6 advertises host",
			ls: []Listener{{Network: "udp", Addr: "[::]:5060"}}, host: "192.0.2.1",
			want: Addrs{{Network: "udp", Host: "192.0.2.1", Bound: "::", Port: 5060}}},
		{name: "empty host advertises host",
			ls: []Listener{{Network: "ws", Addr: ":8080"}}, host: "pbx.example",
			want: Addrs{{Network: "ws", Host: "pbx.example", Bound: "", Port: 8080}}},
		{name: "none", want: Addrs{}},
		{name: "unspecified without host",
			ls:      []Listener{{Network: "udp", Addr: "0.0.0.0:5060"}},
			wantErr: "listener 0.0.0.0:5060 is bound to all addresses: set the advertised host"},
		{name: "empty bind without host",
			ls:      []Listener{{Network: "udp", Addr: ":5060"}},
			wantErr: "listener :5060 is bound to all addresses: set the advertised host"},
		{name: "no port",
			ls:      []Listener{{Network: "udp", Addr: "192.0.2.7"}},
			wantErr: "listener 192.0.2.7: "},
		{name: "port not a number",
			ls:      []Listener{{Network: "udp", Addr: "192.0.2.7:sip"}},
			wantErr: "listener 192.0.2.7:sip: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.ls, tt.host)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("[%d] = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestFor(t *testing.T) {
	as := Addrs{
		{Network: "udp", Host: "pbx.example", Bound: "0.0.0.0", Port: 5060},
		{Network: "udp", Host: "192.0.2.7", Bound: "192.0.2.7", Port: 5062},
		{Network: "udp", Host: "2001:db8::7", Bound: "2001:db8::7", Port: 5064},
		{Network: "tcp", Host: "2001:db8::7", Bound: "2001:db8::7", Port: 5060},
		{Network: "tcp", Host: "192.0.2.7", Bound: "192.0.2.7", Port: 5060},
	}
	tests := []struct {
		network, dest string
		wantPort      int
		wantHost      string
		wantOK        bool
	}{
		{"udp", "", 5060, "pbx.example", true},                   // no destination: the first
		{"udp", "phone.example:5060", 5060, "pbx.example", true}, // a name: the first
		{"udp", "198.51.100.9:5060", 5062, "192.0.2.7", true},    // IPv4: the first bound to IPv4, not the unspecified one
		{"udp", "[2001:db8::9]:5060", 5064, "2001:db8::7", true},
		{"udp", "[::ffff:198.51.100.9]:5060", 5062, "192.0.2.7", true}, // mapped IPv4 counts as IPv4
		{"UDP", "198.51.100.9:5060", 5062, "192.0.2.7", true},          // network case-insensitive
		{"tcp", "198.51.100.9:5060", 5060, "192.0.2.7", true},
		{"tcp", "[2001:db8::9]:5060", 5060, "2001:db8::7", true},
		{"tcp", "", 5060, "2001:db8::7", true},
		{"tls", "198.51.100.9:5061", 0, "", false},
	}
	for _, tt := range tests {
		got, ok := as.For(tt.network, tt.dest)
		if ok != tt.wantOK || got.Port != tt.wantPort || got.Host != tt.wantHost {
			t.Errorf("For(%q, %q) = %+v, %v; want %s:%d, %v", tt.network, tt.dest, got, ok, tt.wantHost, tt.wantPort, tt.wantOK)
		}
	}
	// No listener of dest's family: the first of the network.
	v4 := Addrs{{Network: "udp", Host: "192.0.2.7", Bound: "192.0.2.7", Port: 5060}, {Network: "udp", Host: "192.0.2.8", Bound: "192.0.2.8", Port: 5062}}
	if got, ok := v4.For("udp", "[2001:db8::9]:5060"); !ok || got.Port != 5060 {
		t.Errorf("v4 only, v6 destination: %+v, %v; want the first", got, ok)
	}
}

func TestIsUs(t *testing.T) {
	as := Addrs{
		{Network: "udp", Host: "pbx.example", Bound: "0.0.0.0", Port: 5060},
		{Network: "tls", Host: "pbx.example", Bound: "0.0.0.0", Port: 5061},
		{Network: "tcp", Host: "2001:db8::7", Bound: "2001:db8::7", Port: 5070},
	}
	tests := []struct {
		host      string
		port      int
		transport string
		want      bool
	}{
		{"pbx.example", 5060, "", true},
		{"PBX.Example", 5060, "", true}, // case-insensitive
		{"0.0.0.0", 5060, "", true},     // the bound host counts too
		{"pbx.example", 0, "", true},    // no port: the listener's network default (udp 5060)
		{"pbx.example", 0, "udp", true},
		{"pbx.example", 0, "tls", true}, // no port on tls: 5061
		{"pbx.example", 0, "wss", true}, // wss defaults to 5061 as well
		{"pbx.example", 5061, "", true},
		{"pbx.example", 5062, "", false},
		{"other.example", 5060, "", false},
		{"[2001:db8::7]", 5070, "tcp", true}, // brackets optional
		{"2001:db8::7", 5070, "", true},
		{"[2001:DB8::7]", 5070, "", true},
		{"[2001:db8::7]", 0, "tcp", false}, // 5060 is not 5070
		{"", 5060, "", false},
	}
	for _, tt := range tests {
		if got := as.IsUs(tt.host, tt.port, tt.transport); got != tt.want {
			t.Errorf("IsUs(%q, %d, %q) = %v, want %v", tt.host, tt.port, tt.transport, got, tt.want)
		}
	}
}

func TestDefaultPort(t *testing.T) {
	for n, want := range map[string]int{"udp": 5060, "tcp": 5060, "ws": 5060, "": 5060, "tls": 5061, "TLS": 5061, "wss": 5061} {
		if got := DefaultPort(n); got != want {
			t.Errorf("DefaultPort(%q) = %d, want %d", n, got, want)
		}
	}
}

func TestContactAndVia(t *testing.T) {
	tests := []struct {
		a            Addr
		contact      string
		viaTransport string
	}{
		{Addr{Network: "udp", Host: "pbx.example", Bound: "0.0.0.0", Port: 5060}, "sip:2101@pbx.example:5060", "UDP"},
		{Addr{Network: "tcp", Host: "192.0.2.7", Bound: "192.0.2.7", Port: 5070}, "sip:2101@192.0.2.7:5070;transport=tcp", "TCP"},
		{Addr{Network: "wss", Host: "pbx.example", Port: 443}, "sip:2101@pbx.example:443;transport=wss", "WSS"},
	}
	for _, tt := range tests {
		u := tt.a.Contact("2101")
		if got := u.String(); got != tt.contact {
			t.Errorf("%+v Contact = %q, want %q", tt.a, got, tt.contact)
		}
		v := tt.a.Via()
		if v.Transport != tt.viaTransport || v.Host != tt.a.Host || v.Port != tt.a.Port || v.Params == nil || v.Params.Length() != 0 {
			t.Errorf("%+v Via = %+v", tt.a, v)
		}
	}
}
