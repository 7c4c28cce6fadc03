package bench

import (
	"testing"

	"github.com/sentralpbx/sentral/sip/auth"
)

// BenchmarkChallengeBuild is the 401 path's own work: one nonce and the
// challenge values, in the default order and in a configured one (the
// registrar and proxy pass sip.registrar.digest_algorithms through).
func BenchmarkChallengeBuild(b *testing.B) {
	a := auth.NewAuthenticator(auth.Options{})
	for name, algs := range map[string][]string{"default": nil, "md5-first": {auth.MD5, auth.SHA256}} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v := a.Challenge("bench.test", false, algs...); len(v) != 2 {
					b.Fatalf("%d challenges", len(v))
				}
			}
		})
	}
}
