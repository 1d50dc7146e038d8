package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestSecretNeverPrints(t *testing.T) {
	s := Secret(marker)
	c := Default()
	c.OIDC.ClientSecret = s
	c.Session.Redis.Password = s

	var outputs []string
	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10s", "%T %v"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, c), fmt.Sprintf(verb, *c))
	}
	outputs = append(outputs, fmt.Sprint(s), fmt.Sprintln(c), s.String(), s.GoString(),
		fmt.Errorf("connect: %v", s).Error(), fmt.Errorf("config: %+v", c).Error())

	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		slog.New(h).Info("loaded", "secret", s, "config", c, slog.Any("oidc", c.OIDC))
	}
	outputs = append(outputs, logs.String())

	j, err := json.Marshal(c)
	require.NoError(t, err)
	y, err := yaml.Marshal(c)
	require.NoError(t, err)
	outputs = append(outputs, string(j), string(y))

	for i, out := range outputs {
		require.NotContains(t, out, marker, "output %d: %s", i, out)
	}
	require.Contains(t, logs.String(), `"secret":"[redacted]"`)
	require.Contains(t, string(j), `"ClientSecret":"[redacted]"`)
	require.Equal(t, marker, s.Reveal())
}

func TestSecretFiles(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" with noFile: the path does not exist
		noFile  bool
		want    string
		wantMsg string
	}{
		{"trailing newline trimmed", "abc\n", false, "abc", ""},
		{"CRLF and blank lines trimmed", "abc\r\n\n", false, "abc", ""},
		{"inner and leading spaces kept", "  a b\n", false, "  a b", ""},
		{"no newline", "abc", false, "abc", ""},
		{"empty file", "\n", false, "", "is empty"},
		{"missing file", "", true, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "absent")
			if !tt.noFile {
				path = writeFile(t, "secret", tt.content)
			}
			c, err := Load("", withEnv("AUTHBRIDGE_OIDC_CLIENT_SECRET_FILE="+path, "AUTHBRIDGE_SESSION_REDIS_PASSWORD_FILE="+path))
			if tt.wantMsg == "" {
				require.NoError(t, err)
				require.Equal(t, tt.want, c.OIDC.ClientSecret.Reveal())
				require.Equal(t, tt.want, c.Session.Redis.Password.Reveal())
				require.Empty(t, c.OIDC.ClientSecretFile)
				return
			}
			require.ErrorIs(t, err, ErrInvalidValue)
			for _, key := range []string{"oidc.client_secret_file", "session.redis.password_file"} {
				require.Contains(t, err.Error(), key)
			}
			require.Contains(t, err.Error(), path)
			require.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func TestUnreadableSecretFileNamesPathNotContent(t *testing.T) {
	dir := t.TempDir()
	// A directory cannot be read as a file, even by root (who ignores permission bits).
	require.NoError(t, os.WriteFile(filepath.Join(dir, marker), []byte(marker), 0o600))
	_, err := Load("", withEnv("AUTHBRIDGE_OIDC_CLIENT_SECRET_FILE="+dir))
	require.ErrorIs(t, err, ErrInvalidValue)
	require.Contains(t, err.Error(), "oidc.client_secret_file: read secret file")
	require.Contains(t, err.Error(), dir)
	require.NotContains(t, err.Error(), marker)
}
