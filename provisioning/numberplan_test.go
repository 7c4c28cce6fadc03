package provisioning

import (
	"errors"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

func TestParseRoutesAndPeers(t *testing.T) {
	routes, err := parseRoutes([]string{"+47", " 0046 ", "", "+"})
	if err != nil || strings.Join(routes, " ") != "+47 +46 +" {
		t.Errorf("parseRoutes = %v, %v", routes, err)
	}
	for _, bad := range [][]string{{"47"}, {"+47", "0047"}, {"+4a"}, {"+1234567890123456"}} {
		var pe *Error
		if _, err := parseRoutes(bad); !errors.As(err, &pe) || pe.Field != "--route" || pe.Fix == "" {
			t.Errorf("parseRoutes(%q) = %v, want a --route refusal with a fix", bad, err)
		}
	}
	peers, err := parsePeers([]string{"2001:DB8::1", "198.51.100.0/24", "::ffff:192.0.2.10"})
	if err != nil || strings.Join(peers, " ") != "2001:db8::1 198.51.100.0/24 192.0.2.10" {
		t.Errorf("parsePeers = %v, %v", peers, err)
	}
	var pe *Error
	if _, err := parsePeers([]string{"198.51.100.7/24"}); !errors.As(err, &pe) || !strings.Contains(pe.Fix, "198.51.100.0/24") {
		t.Errorf("host bits: %v, want a fix naming the network", err)
	}
	if _, err := parsePeers([]string{"192.0.2.10", "::ffff:192.0.2.10"}); err == nil {
		t.Error("the same address twice (once IPv4-mapped) was accepted")
	}
}

func TestApplyTrunkNumberPlan(t *testing.T) {
	tr := store.Trunk{Mode: store.TrunkRegister, Host: "sip.operator.no", Username: "u", Password: "p", Transport: "udp",
		Routes: []string{"+"}, PeerAddresses: []string{"192.0.2.1"}}
	peer, emergency := "peer", true
	// Switching to peer keeps the addresses; given lists replace the old ones.
	if err := applyTrunk(&tr, TrunkInput{Mode: &peer, Emergency: &emergency, Routes: &[]string{"+47"}}); err != nil {
		t.Fatal(err)
	}
	if tr.Mode != store.TrunkPeer || !tr.Emergency || strings.Join(tr.Routes, ",") != "+47" || strings.Join(tr.PeerAddresses, ",") != "192.0.2.1" {
		t.Errorf("after update: %+v", tr)
	}
	var pe *Error
	if err := applyTrunk(&tr, TrunkInput{Peers: &[]string{}}); !errors.As(err, &pe) || pe.Field != "--peer" {
		t.Errorf("a peer trunk without addresses: %v, want a --peer refusal", err)
	}
}

func TestCheckOwnDID(t *testing.T) {
	tn := store.Tenant{Name: "fjordvik", Ranges: []store.NumberRange{{Kind: store.RangeDID, First: "+4755550000", Last: "+4755550999"}}}
	if d, err := checkOwnDID("--did", "55550001", tn); err != nil || d != "+4755550001" {
		t.Errorf("checkOwnDID(55550001) = %q, %v", d, err)
	}
	if d, err := checkOwnDID("--did", " ", tn); err != nil || d != "" {
		t.Errorf("checkOwnDID(blank) = %q, %v; want none", d, err)
	}
	var pe *Error
	if _, err := checkOwnDID("--did", "+4722334455", tn); !errors.As(err, &pe) || !strings.Contains(pe.Fix, "--did-range") {
		t.Errorf("DID outside the ranges: %v", err)
	}
	if _, err := checkOwnDID("did", "+4755550001", store.Tenant{Name: "x"}); !errors.As(err, &pe) || !strings.Contains(pe.Problem, "no DID ranges") {
		t.Errorf("tenant without DID ranges: %v", err)
	}
}
