package ldap

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ldapsearchPath finds the OpenLDAP client, skipping loudly without it
// unless CI demands it.
func ldapsearchPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ldapsearch")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ldapsearch is not installed (Debian package ldap-utils) and CI=true")
		}
		t.Skip("*** ldapsearch SKIPPED: not installed (apt-get install ldap-utils) ***")
	}
	return p
}

// runLDAPSearch runs ldapsearch with args and returns its output and exit
// code.
func runLDAPSearch(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-o", "ldif-wrap=no", "-o", "nettimeout=5"}, args...)...)
	cmd.Env = append(os.Environ(), "LDAPNOINIT=1") // ignore ldap.conf and ~/.ldaprc
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	default:
		t.Fatalf("ldapsearch: %v\n%s", err, out)
		return "", -1
	}
}

func TestLDAPSearchClient(t *testing.T) {
	bin := ldapsearchPath(t)
	_, addr := startServer(t, Options{})
	url := "ldap://" + addr
	as := func(tenant, pw, base, filter string, attrs ...string) (string, int) {
		args := []string{"-x", "-H", url, "-D", "cn=phonebook,o=" + tenant, "-w", pw, "-b", base, filter}
		return runLDAPSearch(t, bin, append(args, attrs...)...)
	}
	const kari = "dn: uid=person-10,ou=phonebook,o=fjordvik"

	out, code := as("fjordvik", "secret", "ou=phonebook,o=fjordvik", "(cn=Kar*)", "cn", "telephoneNumber")
	if code != 0 || !strings.Contains(out, kari) || !strings.Contains(out, "telephoneNumber: 4711") ||
		!strings.Contains(out, "telephoneNumber: +4722334455") || !strings.Contains(out, "numEntries: 1") {
		t.Errorf("name prefix: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "mobile") || strings.Contains(out, "mail:") {
		t.Errorf("unrequested attributes returned:\n%s", out)
	}

	for _, f := range []string{"(telephoneNumber=4711)", "(telephoneNumber=*22334455)", "(telephoneNumber=22334455)",
		"(|(cn=kar*)(sn=kar*)(givenName=kar*)(telephoneNumber=*4711*))"} {
		out, code = as("fjordvik", "secret", "ou=phonebook,o=fjordvik", f, "cn")
		if code != 0 || !strings.Contains(out, kari) || !strings.Contains(out, "numEntries: 1") {
			t.Errorf("%s: exit %d\n%s", f, code, out)
		}
	}

	// Norwegian letters survive the round trip (ldapsearch prints base64).
	out, code = as("fjordvik", "secret", "o=fjordvik", "(sn=ødegård-hansen)", "sn")
	if code != 0 || !strings.Contains(out, kari) {
		t.Errorf("folded equality: exit %d\n%s", code, out)
	}

	// Everything the tenant can see: neither the other tenant nor the
	// secret entry nor notes.
	out, code = as("fjordvik", "secret", "o=fjordvik", "(objectClass=*)")
	if code != 0 || !strings.Contains(out, "numEntries: 7") {
		t.Errorf("whole tree: exit %d\n%s", code, out)
	}
	for _, bad := range []string{"havdal", "Karin", "person-14", "4799", "Hemmelig", "NOTE-NEVER"} {
		if strings.Contains(out, bad) {
			t.Errorf("whole tree shows %q:\n%s", bad, out)
		}
	}

	out, code = as("fjordvik", "secret", "ou=phonebook,o=havdal", "(objectClass=*)")
	if code != 32 || strings.Contains(out, "Karin") {
		t.Errorf("other tenant's base: exit %d, want 32\n%s", code, out)
	}

	out, code = as("fjordvik", "wrong", "ou=phonebook,o=fjordvik", "(cn=*)")
	if code != 49 || !strings.Contains(out, "Invalid credentials") {
		t.Errorf("wrong password: exit %d, want 49\n%s", code, out)
	}
	out2, code := as("nosuch", "secret", "ou=phonebook,o=nosuch", "(cn=*)")
	if code != 49 || out2 != out {
		t.Errorf("unknown tenant: exit %d, want 49 and the same output as a wrong password\n%s\n---\n%s", code, out2, out)
	}

	out, code = runLDAPSearch(t, bin, "-x", "-H", url, "-b", "ou=phonebook,o=fjordvik", "(cn=*)")
	if code != 50 || !strings.Contains(out, "Insufficient access") {
		t.Errorf("anonymous search: exit %d, want 50\n%s", code, out)
	}

	out, code = runLDAPSearch(t, bin, "-x", "-H", url, "-D", "cn=phonebook,o=fjordvik", "-w", "secret",
		"-b", "ou=phonebook,o=fjordvik", "-z", "2", "(objectClass=person)", "1.1")
	if code != 4 || !strings.Contains(out, "numEntries: 2") {
		t.Errorf("size limit: exit %d, want 4\n%s", code, out)
	}
}
