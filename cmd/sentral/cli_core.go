package main

import "github.com/spf13/cobra"

// coreAdminCommands: tenant, ext, import.
func (a *app) coreAdminCommands() []*cobra.Command { return nil }
