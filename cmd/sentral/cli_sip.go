package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/sentralpbx/sentral/provisioning/adminapi"
	"github.com/sentralpbx/sentral/store"
)

// sipCmd groups the SIP inspection commands.
func (a *app) sipCmd() *cobra.Command {
	c := &cobra.Command{Use: "sip", Short: "Inspect SIP state: registrations and bans"}
	c.AddCommand(a.sipRegistrationsCmd(), a.sipBansCmd())
	return c
}

// registration is one row of `sip registrations`.
type registration struct {
	Tenant    string    `json:"tenant"`
	AOR       string    `json:"aor"`
	Contact   string    `json:"contact"`
	Source    string    `json:"source"`
	Transport string    `json:"transport"`
	UserAgent string    `json:"user_agent"`
	Expires   time.Time `json:"expires"`
	ExpiresIn int       `json:"expires_in"` // seconds left when listed
}

var registrationCols = []column[registration]{
	{"tenant", func(r registration) string { return r.Tenant }},
	{"aor", func(r registration) string { return r.AOR }},
	{"contact", func(r registration) string { return r.Contact }},
	{"source", func(r registration) string { return r.Source }},
	{"transport", func(r registration) string { return r.Transport }},
	{"user_agent", func(r registration) string { return r.UserAgent }},
	{"expires_in", func(r registration) string { return strconv.Itoa(r.ExpiresIn) }},
}

// sipRegistrationsCmd reads the bindings the running server(s) wrote to
// the store. The location service writes them behind within a fraction of
// a second, so the store is the one view across every node and works
// whether or not a server is running here.
func (a *app) sipRegistrationsCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "registrations [--tenant TENANT]",
		Short: "List registered SIP contacts (from the store)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			rows, err := a.registrations(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			return printList(a, rows, registrationCols)
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) registrations(ctx context.Context, tenant string) ([]registration, error) {
	p, err := a.provisioner(ctx)
	if err != nil {
		return nil, err
	}
	st := p.Store()
	var tenantID int64
	if tenant != "" {
		t, err := p.Tenant(ctx, tenant)
		if err != nil {
			return nil, err
		}
		tenantID = t.ID
	}
	tenants, err := st.Tenants().List(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	byID := make(map[int64]store.Tenant, len(tenants))
	for _, t := range tenants {
		byID[t.ID] = t
	}
	bs, err := st.Bindings().List(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list registrations: %w", err)
	}
	now := time.Now()
	rows := []registration{}
	for _, b := range bs {
		if !b.Expires.After(now) {
			continue // expired, waiting for the purge
		}
		t := byID[b.TenantID]
		rows = append(rows, registration{
			Tenant: t.Name, AOR: b.Number + "@" + t.Domain, Contact: b.Contact, Source: b.Source,
			Transport: b.Transport, UserAgent: b.UserAgent, Expires: b.Expires.UTC(),
			ExpiresIn: int(b.Expires.Sub(now) / time.Second),
		})
	}
	return rows, nil
}

var banCols = []column[adminapi.Ban]{
	{"addr", func(b adminapi.Ban) string { return b.Addr }},
	{"since", func(b adminapi.Ban) string { return b.Since.Format(time.RFC3339) }},
	{"until", func(b adminapi.Ban) string { return b.Until.Format(time.RFC3339) }},
	{"failures", func(b adminapi.Ban) string { return strconv.Itoa(b.Failures) }},
}

// sipBansCmd asks the running server: bans live in its memory only (they
// are per node and short-lived, so storing them would buy nothing).
func (a *app) sipBansCmd() *cobra.Command {
	return serverListCmd(a, "bans [--server URL]", "List source addresses the running server has banned (from its admin API)",
		"/api/v1/sip/bans", banCols)
}

// serverListCmd is a command that lists state living only in the running
// server's memory, read from its admin API at path (admin.listen, or
// --server for another node).
func serverListCmd[T any](a *app, use, short, path string, cols []column[T]) *cobra.Command {
	var flags adminClientFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			client, err := a.adminClient(flags) // https, --ca-file, mTLS: admin_client_tls.go
			if err != nil {
				return err
			}
			rows, err := fetchJSON[[]T](cmd.Context(), client, a.adminBase(flags), path)
			if err != nil {
				return err
			}
			return printList(a, rows, cols)
		},
	}
	flags.add(cmd)
	a.addOutputFlag(cmd)
	return cmd
}

// fetchJSON GETs path from the running server's admin API and decodes the
// JSON answer into a T: for state that lives only in the server's memory.
func fetchJSON[T any](ctx context.Context, client *http.Client, base, path string) (T, error) {
	var out T
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := base + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return out, usageError{fmt.Errorf("admin API %s: %w", base, err)}
	}
	res, err := client.Do(req)
	if err != nil {
		return out, adminClientError(url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return out, fmt.Errorf("GET %s: %w", url, err)
	}
	if httpToHTTPS(res.StatusCode, body) {
		return out, usageError{fmt.Errorf("GET %s: the admin API speaks HTTPS: give --server an https:// URL", url)}
	}
	if res.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		return out, fmt.Errorf("GET %s: %s: %s", url, res.Status, e.Error)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return out, fmt.Errorf("GET %s: decode: %w", url, err)
	}
	return out, nil
}
