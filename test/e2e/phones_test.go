package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

// phonesBase finds the provisioning URL in the server's ready line.
func (s *server) phonesBase(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(s.logText(), "\n") {
		var rec struct {
			Msg    string `json:"msg"`
			Phones string `json:"phones"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "sentral ready" && rec.Phones != "" {
			return rec.Phones
		}
	}
	t.Fatalf("no provisioning URL in the ready line:\n%s", s.logText())
	return ""
}

// TestPhoneProvisioningThroughServe: a Yealink and a Snom phone fetch their
// files from the running server with their own credentials (HTTP digest);
// the files carry their lines and credentials; a wrong secret gets 401 and
// an unknown MAC 404.
func TestPhoneProvisioningThroughServe(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, filepath.Join(dir, "s.db"))
	s.mustCLI("tenant", "add", "provco", "--domain", "prov.test", "--ext-range", "2000-2999")
	for _, n := range []string{"2001", "2002", "2003"} {
		s.mustCLI("ext", "add", n, "--tenant", "provco", "--name", "Linje "+n)
	}
	s.mustCLI("device", "add", "00:15:65:aa:bb:cc", "--tenant", "provco", "--model", "yealink-t54w", "--line", "1=2001", "--line", "2=2002")
	s.mustCLI("device", "add", "000413aabbcc", "--tenant", "provco", "--model", "snom-d785", "--line", "1=2003")
	base := s.phonesBase(t)

	fetch := func(path, user, password string) (int, string) {
		t.Helper()
		c := &http.Client{Timeout: 5 * time.Second, Transport: &digest.Transport{Username: user, Password: password}}
		res, err := c.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	secret := func(mac string) string {
		var out struct{ Secret string }
		if err := json.Unmarshal([]byte(s.mustCLI("device", "secret", mac, "--tenant", "provco", "-o", "json")), &out); err != nil || out.Secret == "" {
			t.Fatalf("device secret %s: %v", mac, err)
		}
		return out.Secret
	}

	yl := secret("001565aabbcc")
	code, body := fetch("001565aabbcc.cfg", "ph001565aabbcc", yl)
	if code != http.StatusOK {
		t.Fatalf("yealink file: %d %s", code, body)
	}
	for _, want := range []string{"account.1.user_name = 2001", "account.2.user_name = 2002",
		"account.1.auth_name = ph001565aabbcc", "account.1.password = " + yl, "prov.test"} {
		if !strings.Contains(body, want) {
			t.Errorf("yealink file lacks %q:\n%s", want, body)
		}
	}

	sn := secret("000413aabbcc")
	code, body = fetch("000413AABBCC.xml", "ph000413aabbcc", sn)
	if code != http.StatusOK {
		t.Fatalf("snom file: %d %s", code, body)
	}
	for _, want := range []string{"2003", "ph000413aabbcc", sn, "<settings>"} {
		if !strings.Contains(body, want) {
			t.Errorf("snom file lacks %q:\n%s", want, body)
		}
	}

	if code, _ := fetch("001565aabbcc.cfg", "ph001565aabbcc", "wrong-secret-0000000"); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d, want 401", code)
	}
	if code, _ := fetch("001565aabbcc.cfg", "ph000413aabbcc", sn); code != http.StatusUnauthorized {
		t.Errorf("another phone's credentials: %d, want 401", code)
	}
	if code, _ := fetch("0015659999ff.cfg", "ph0015659999ff", yl); code != http.StatusNotFound {
		t.Errorf("unknown MAC: %d, want 404", code)
	}
	// The server's log reaches us through a pipe: wait for the line.
	s.waitFor("the unknown MAC logged", func() bool { return strings.Contains(s.logText(), "0015659999ff") })
}
