package main

import "github.com/spf13/cobra"

// addAdminCommands registers the provisioning commands.
func (a *app) addAdminCommands(root *cobra.Command) {
	root.AddCommand(a.coreAdminCommands()...)      // tenant, ext, import (cli_core.go)
	root.AddCommand(a.inventoryAdminCommands()...) // site, dept, person, device, dect, trunk, group (cli_inventory.go)
	root.AddCommand(a.sipCmd())                    // sip registrations, sip bans (cli_sip.go)
	root.AddCommand(a.cdrCmd())                    // cdr list (cli_cdr.go)
	root.AddCommand(a.tariffCmd(), a.billingCmd()) // tariff, billing (cli_billing.go)
	root.AddCommand(a.consoleCommands()...)        // operator, switchboard (cli_operator.go)
	root.AddCommand(a.backupCommands()...)         // backup, restore (cli_backup.go)
	root.AddCommand(a.auditCmd())                  // audit list (cli_audit.go)
	root.AddCommand(a.clusterCmd())                // cluster status (serve_cluster.go)
	for _, c := range root.Commands() {
		if c.Name() == "trunk" {
			c.AddCommand(a.trunkStatusCmd()) // trunk status (cli_trunk.go)
		}
	}
}
