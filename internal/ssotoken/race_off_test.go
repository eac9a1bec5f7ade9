//go:build !race

package ssotoken

const raceEnabled = false
