package cove

import sandboxv1 "cove.dev/gen/cove/sandbox/v1"

// SandboxOf binds a sandbox message to client, so that tests can call a real sandbox's
// toolbox with another client's credentials.
func SandboxOf(client *Client, raw *sandboxv1.Sandbox) *Sandbox { return client.newSandbox(raw) }
