package web

import "testing"

func TestHomeTenant(t *testing.T) {
	const tid = "72f988bf-0000-4c5b-a000-00000000c0de"
	const home = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
	for _, c := range []struct{ idp, want string }{
		{"", tid}, // a member
		{"https://sts.windows.net/" + home + "/", home},
		{"https://sts.windows.net/0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0/", home},
		{"http://127.0.0.1:8080/emulator/sts/" + home + "/", home}, // the emulator's STS
		{"live.com", "9188040d-6c67-4c5b-b112-36a304b66dad"},       // a personal account invited as guest
		{"https://sts.windows.net/not-a-guid/", tid},
		{"google.com", tid},
	} {
		if got := homeTenant(c.idp, tid); got != c.want {
			t.Errorf("homeTenant(%q) = %s, want %s", c.idp, got, c.want)
		}
	}
}
