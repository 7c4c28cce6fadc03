package main

import "github.com/spf13/cobra"

// inventoryAdminCommands: site, dept, person, device, dect, trunk, group.
func (a *app) inventoryAdminCommands() []*cobra.Command { return nil }
