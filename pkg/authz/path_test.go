package authz_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/authz"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		uri  string
		want string // "" means refused with ErrBadPath
	}{
		{"/", "/"},
		{"/admin", "/admin"},
		{"/admin/", "/admin/"},
		{"/admin?x=/../public", "/admin"},
		{"/admin#frag", "/admin"},
		{"/ADMIN", "/ADMIN"},
		{"/a%62c", "/abc"},
		{"/%61dmin", "/admin"},
		{"/%2561dmin", ""}, // an upstream that decodes twice would serve /admin
		{"/%25", ""},
		{"//admin", "/admin"},
		{"/admin//users///x", "/admin/users/x"},
		{"/admin/../public", "/public"},
		{"/public/../admin", "/admin"},
		{"/public/%2e%2e/admin", "/admin"},
		{"/public/%2E%2E/admin", "/admin"},
		{"/public/.%2e/admin", "/admin"},
		{"/./admin", "/admin"},
		{"/admin/.", "/admin/"},
		{"/admin/x/..", "/admin/"},
		{"/..", "/"},
		{"/../../admin", "/admin"},
		{"/a/b/../../c", "/c"},
		{"/a//b/../c", "/a/c"},
		{"/.well-known/x", "/.well-known/x"},
		{"/...", "/..."},
		{"/a;b/c", ""},           // Tomcat, Jetty and Spring serve /a/c
		{"/admin;x/users", ""},   // ... /admin/users, which matches no /admin route here
		{"/admin%3bx/users", ""}, // the same, encoded
		{"/admin%3Bx/users", ""},
		{"/admin;", ""},
		{"/%E2%82%AC", "/€"},
		{"/a%3Fb", "/a?b"},
		{"/public/..%2fadmin", ""},
		{"/public/..%2Fadmin", ""},
		{"/public%2F..%2Fadmin", ""},
		{"/public/..%5cadmin", ""},
		{"/public/..\\admin", ""},
		{"/admin%00.css", ""},
		{"/admin\x00", ""},
		{"/admin%0d%0a", ""},
		{"/admin\t", ""},
		{"/admin%7F", ""},
		{"/admin%", ""},
		{"/admin%2", ""},
		{"/admin%zz", ""},
		{"/public/..;/admin", ""},
		{"/public/.;x/admin", ""},
		{"/a//../b", ""}, // Envoy reads /a/b, nginx and Go /b
		{"//../admin", ""},
		{"", ""},
		{"admin", ""},
		{"*", ""},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			got, err := authz.NormalizePath(tt.uri)
			if tt.want == "" {
				require.ErrorIs(t, err, authz.ErrBadPath)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizePathAllocatesOnlyToRewrite(t *testing.T) {
	for uri, want := range map[string]float64{"/api/items?x=1": 0, "/": 0, "/a%2Fb": 1, "/a/../b": 2} {
		got := testing.AllocsPerRun(100, func() { _, _ = authz.NormalizePath(uri) })
		require.LessOrEqual(t, got, want, uri)
	}
}
