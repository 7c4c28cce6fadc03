package bench

import (
	"strings"
	"testing"

	"github.com/icholy/digest"

	"github.com/sentralpbx/sentral/sip/auth"
)

// The parts of answering an unauthenticated REGISTER with 401, measured
// separately; bench/register.sh measures the whole registrar under sipp.
// BenchmarkChallenge* mirror registrar.challenge: it builds both challenges
// and then, to order them by sip.registrar.digest_algorithms, parses each
// one again with icholy/digest.ParseChallenge once per configured algorithm.

// BenchmarkChallengeBuild is auth.Authenticator.Challenge alone: one nonce,
// two formatted header values.
func BenchmarkChallengeBuild(b *testing.B) {
	a := auth.NewAuthenticator(auth.Options{})
	b.ReportAllocs()
	for b.Loop() {
		_ = a.Challenge("bench.test", false)
	}
}

// BenchmarkChallengeOrder is the re-parsing registrar.challenge does on top
// of BenchmarkChallengeBuild with two configured algorithms (4 parses).
func BenchmarkChallengeOrder(b *testing.B) {
	all := auth.NewAuthenticator(auth.Options{}).Challenge("bench.test", false)
	algs := []string{auth.MD5, auth.SHA256}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, alg := range algs {
			for _, v := range all {
				if c, err := digest.ParseChallenge(v); err == nil && strings.EqualFold(c.Algorithm, alg) {
					n++
				}
			}
		}
		if n != 2 {
			b.Fatalf("matched %d challenges, want 2", n)
		}
	}
}
