// Package testkit holds the helpers that tests across the tree share: free ports, child processes and a
// settable clock.
package testkit
