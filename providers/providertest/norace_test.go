//go:build !race

package providertest_test

const raceEnabled = false
