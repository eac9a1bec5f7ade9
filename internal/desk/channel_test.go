package desk

import (
	"strings"
	"testing"
)

func TestParseChannelConfig(t *testing.T) {
	good := `{"appId":"11111111-1111-4111-8111-11111111111A","appSecret":"v~x","tenantId":"22222222-2222-4222-8222-222222222222","teamsPublishedAppId":"33333333-3333-4333-8333-333333333333"}`
	c, err := ParseChannelConfig(strings.NewReader(good))
	if err != nil || c.AppID != "11111111-1111-4111-8111-11111111111a" {
		t.Fatalf("good config: %+v %v", c, err)
	}
	for _, tc := range []struct{ doc, field string }{
		{`[]`, "config"},
		{`{"appId":"11111111-1111-4111-8111-111111111111","appSecret":"v","tenantId":"11111111-1111-4111-8111-111111111111","teamsPublishedAppId":"33333333-3333-4333-8333-333333333333"}`, "tenantId"},
		{`{"appId":"11111111-1111-4111-8111-111111111111","appSecret":"v","tenantId":"9188040d-6c67-4c5b-b112-36a304b66dad","teamsPublishedAppId":"33333333-3333-4333-8333-333333333333"}`, "tenantId"},
		{`{"appId":"{11111111-1111-4111-8111-111111111111}","appSecret":"v","tenantId":"x","teamsPublishedAppId":"y"}`, "appId"},
		{`{"appId":"11111111-1111-4111-8111-111111111111","appSecret":"v","tenantId":"22222222-2222-4222-8222-222222222222"}`, "teamsPublishedAppId"},
		{strings.Repeat(" ", 70<<10), "config"},
	} {
		_, err := ParseChannelConfig(strings.NewReader(tc.doc))
		if ErrorCode(err) != EInvalid || ErrorField(err) != tc.field {
			t.Errorf("%.60q: got %v (field %q), want field %s", tc.doc, err, ErrorField(err), tc.field)
		}
	}
}
