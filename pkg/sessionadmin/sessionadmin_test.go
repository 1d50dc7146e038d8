package sessionadmin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/session"
	"github.com/authbridge/authbridge/pkg/sessionadmin"
)

const token = "admin-token-value"

func setup(t *testing.T) (*session.Sessions, http.Handler, []session.Ticket) {
	s := session.NewSessions(session.NewMemoryStore(nil))
	var tickets []session.Ticket
	for i, sub := range []string{"alice", "alice", "bob"} {
		tk, err := session.NewTicket()
		require.NoError(t, err)
		require.NoError(t, s.Save(context.Background(), tk, &session.Session{Subject: sub, AccessToken: "at",
			CreatedAt: time.Unix(int64(1000+i), 0)}, time.Hour))
		tickets = append(tickets, tk)
	}
	return s, sessionadmin.New(s, token, nil), tickets
}

func call(h http.Handler, method, target, bearer string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type listing struct {
	Sub      string `json:"sub"`
	Sessions []struct {
		ID      string    `json:"id"`
		Created time.Time `json:"created"`
	} `json:"sessions"`
}

func TestAuthRequired(t *testing.T) {
	_, h, _ := setup(t)
	for _, tt := range []struct{ name, bearer string }{{"none", ""}, {"wrong", "nope"}, {"prefix of the token", token[:5]}} {
		w := call(h, "GET", "/admin/sessions?sub=alice", tt.bearer)
		require.Equal(t, http.StatusUnauthorized, w.Code, tt.name)
		require.NotContains(t, w.Body.String(), "alice")
	}
	require.Equal(t, http.StatusBadRequest, call(h, "GET", "/admin/sessions", token).Code)
	require.Equal(t, http.StatusMethodNotAllowed, call(h, "POST", "/admin/sessions?sub=alice", token).Code)
}

func TestListAndEnd(t *testing.T) {
	s, h, tickets := setup(t)
	w := call(h, "GET", "/admin/sessions?sub=alice", token)
	require.Equal(t, http.StatusOK, w.Code)
	var l listing
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &l))
	require.Len(t, l.Sessions, 2)
	require.True(t, l.Sessions[0].Created.Before(l.Sessions[1].Created))
	require.NotContains(t, w.Body.String(), tickets[0].String(), "never a cookie value")

	w = call(h, "DELETE", "/admin/sessions?sub=alice&id="+l.Sessions[0].ID, token)
	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"ended":1}`, w.Body.String())
	_, err := s.Load(context.Background(), tickets[0])
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = s.Load(context.Background(), tickets[1])
	require.NoError(t, err)

	w = call(h, "DELETE", "/admin/sessions?sub=alice", token)
	require.JSONEq(t, `{"ended":1}`, w.Body.String())
	_, err = s.Load(context.Background(), tickets[1])
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = s.Load(context.Background(), tickets[2])
	require.NoError(t, err, "another user's session is untouched")

	w = call(h, "GET", "/admin/sessions?sub=alice", token)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &l))
	require.Empty(t, l.Sessions)
}
